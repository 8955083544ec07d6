"""The architecture, checked: imports run one way (the contracts in pyproject.toml, run by
import-linter), and no module or engine function grows back into a grab-bag."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400  # a module of jobs/ outside the engine
MAX_ENGINE_FUNCTION_LINES = 120


def test_imports_run_one_way(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True, no_logo=True) == 0, "an import breaks a contract: run lint-imports for the chain"


def test_no_module_of_jobs_outside_the_engine_is_longer_than_the_limit():
    long = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in (ROOT / "jobs").rglob("*.py")
        if "annotation" not in path.parts and "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]  # fmt: skip
    assert not long, f"split by concern (at most {MAX_MODULE_LINES} lines): {long}"


def test_no_engine_function_is_longer_than_the_limit():
    long = []
    for path in (ROOT / "jobs" / "annotation").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_ENGINE_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name}: {lines} lines")
    assert not long, f"split into named steps (at most {MAX_ENGINE_FUNCTION_LINES} lines): {long}"


def test_each_package_says_what_it_is_for():
    packages = [
        path.parent for path in (ROOT / "jobs").rglob("__init__.py")
        if "migrations" not in path.parts and "management" not in path.parts
    ]  # fmt: skip
    silent = [
        str(package.relative_to(ROOT)) for package in packages
        if not ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
    ]  # fmt: skip
    assert not silent, f"packages without a docstring: {silent}"
