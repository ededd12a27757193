"""The pure core must not import I/O, clocks, threads or randomness (DESIGN section 2).

Walks every module of the pure core with `ast` and fails on a forbidden import, so a test
can fail the moment somebody reaches for the clock inside the reducer or the scheduler.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "raftha"
PURE_PATHS = [ROOT / "model", ROOT / "scheduler", ROOT / "cib.py", ROOT / "crmsh.py"]
FORBIDDEN = {
    "subprocess", "socket", "time", "threading", "random", "pysyncobj", "asyncio",
    "os",  # os gives the environment and files: not pure
    "multiprocessing", "select", "signal", "secrets", "uuid",
}


def pure_modules() -> list[Path]:
    files: list[Path] = []
    for path in PURE_PATHS:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.exists():
            files.append(path)
    return files


def forbidden_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in FORBIDDEN:
                found.append(name)
    return found


def test_checker_catches_a_forbidden_import():
    assert forbidden_imports("import time\nfrom subprocess import run\n") == ["time", "subprocess"]
    assert forbidden_imports("import msgpack\nfrom . import time_helpers\n") == []


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_pure_module_has_no_effectful_imports(path: Path):
    assert forbidden_imports(path.read_text()) == [], f"{path} imports I/O, clock or randomness"
