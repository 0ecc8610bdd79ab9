"""The nonconformity domain stays pure (DESIGN.md §8): importing every module
of it loads no web framework, database or bus library. Checked in a fresh
interpreter, since this test process has them all loaded already."""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import services.nonconformity.domain as domain

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "sqlmodel", "alembic", "aiokafka",
             "asyncpg", "aiosqlite", "httpx")


def test_the_domain_imports_no_framework_database_or_bus() -> None:
    modules = [f"{domain.__name__}.{m.name}" for m in pkgutil.iter_modules(domain.__path__)]
    assert {"services.nonconformity.domain.escalation",
            "services.nonconformity.domain.recurrence"} <= set(modules)
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}: importlib.import_module(name)\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))
