"""The package as a user installs it: a wheel in a fresh virtual environment, outside the checkout.

An editable install finds files through the checkout; a wheel has only what
it ships. This test builds the wheel, installs it (with its declared
dependencies, nothing else) into a new venv in a temporary folder, and runs
the demo there from a folder that is not the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT),
                    "-w", str(work / "dist")], check=True, capture_output=True, env=_clean_env())
    (wheel,) = (work / "dist").glob("relieflink-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # outside the checkout, without the outer environment's PYTHONPATH: pip must not find this
    # checkout's relieflink "already installed" and skip the wheel
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
                   check=True, capture_output=True, cwd=work, env=_clean_env())
    return env_dir


def _clean_env() -> dict[str, str]:
    """The outer environment without what would make Python or relieflink look elsewhere (pip's index
    settings are kept)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RELIEFLINK", "VIRTUAL_ENV"))}


def test_wheel_ships_the_configuration_and_runs_the_demo(wheel_venv, tmp_path):
    python = wheel_venv / "bin" / "python"
    located = subprocess.run([str(python), "-c", "import relieflink.config as c; print(c.schemas_dir())"],
                             cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, check=True).stdout.strip()
    assert Path(located).is_relative_to(wheel_venv), "the configuration must come from the installed package"
    assert (Path(located) / "rules.yaml").is_file() and (Path(located) / "sources" / "mzj.yaml").is_file()
    done = subprocess.run([str(wheel_venv / "bin" / "relieflink"), "demo", "--persons", "2000", "--dir", "demo"],
                          cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "demo" / "out" / "flags.parquet").is_file()
    assert (tmp_path / "demo" / "out" / "report.html").is_file()


def _distribution_names(requirements: list[str]) -> set[str]:
    """Import names of requirement strings ("PyYAML>=6" -> "yaml")."""
    import re

    as_imported = {"pyyaml": "yaml"}
    names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].strip().lower().replace("-", "_") for r in requirements}
    return {as_imported.get(n, n) for n in names}


def test_every_imported_package_is_declared():
    """Each third-party module imported under src/ is a declared dependency, of the package or of an extra."""
    import ast
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _distribution_names(project["dependencies"])
    extras = _distribution_names([r for group in project["optional-dependencies"].values() for r in group])
    used: set[str] = set()
    for path in (ROOT / "src" / "relieflink").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                used |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                used.add(node.module.split(".")[0])
    third_party = {u for u in used if u not in sys.stdlib_module_names and u != "relieflink"}
    assert not sorted(third_party - runtime - extras), "imported but not declared"
    assert "recordlinkage" not in runtime, "recordlinkage belongs in the extras that need it"
