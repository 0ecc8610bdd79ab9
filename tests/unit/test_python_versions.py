"""requires-python admits 3.11 through 3.13: every module must at least compile
on each interpreter this machine has (the suite itself runs on 3.11, the venv's).
pyenv's interpreters or ones on PATH are used; a missing one is reported, not
silently passed."""

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

ALLOWED = ("3.12", "3.13")


def _interpreter(version: str) -> str | None:
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(c / "bin" / "python3") for c in sorted(pyenv.glob(f"{version}.*"),
                                                             reverse=True)]
    candidates.append(shutil.which(f"python{version}") or "")
    for python in filter(None, candidates):
        # A pyenv shim exists for every version and fails for the ones not selected.
        probe = subprocess.run([python, "-c", "import sys; print(sys.version[:4])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.startswith(version):
            return python
    return None


def test_requires_python_admits_3_11_through_3_13() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.14"


@pytest.mark.parametrize("version", ALLOWED)
def test_every_module_compiles_on(version: str, tmp_path: Path) -> None:
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    # Byte code goes to a scratch folder: the checkout stays as it was.
    result = subprocess.run(
        [python, "-m", "compileall", "-q", "-x", r"[\\/]migrations[\\/]versions[\\/]",
         "shared", "services", "bench"],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
