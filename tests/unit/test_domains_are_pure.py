"""Every service's domain stays pure (DESIGN.md §8): importing every module of
it loads no web framework, database or bus library. Checked in a fresh
interpreter, since this test process has them all loaded already."""

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "sqlmodel", "alembic", "aiokafka",
             "asyncpg", "aiosqlite", "httpx", "aiosmtplib", "cloudevents")
SERVICES = ("nonconformity", "capa", "notifications")


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_no_framework_database_or_bus(service: str) -> None:
    domain = importlib.import_module(f"services.{service}.domain")
    modules = [f"{domain.__name__}.{m.name}" for m in pkgutil.iter_modules(domain.__path__)]
    assert len(modules) >= 3  # a package of rules, as the skeleton has it
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}: importlib.import_module(name)\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_skeleton(service: str) -> None:
    root = ROOT / "services" / service
    for room in ("api", "service", "domain"):
        assert (root / room / "__init__.py").is_file(), f"{service}/{room}/"
    for module in ("app.py", "models.py", "schemas.py", "settings.py", "migrate.py"):
        assert (root / module).is_file(), f"{service}/{module}"
    service_package = importlib.import_module(f"services.{service}.service")
    # One shape for what the composition root takes from the service layer.
    assert callable(service_package.consumers) and callable(service_package.jobs)
