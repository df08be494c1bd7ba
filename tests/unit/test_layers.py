"""The layers of `bot` are a contract `lint-imports` checks (pyproject.toml, [tool.importlinter]).

Each test runs the real `lint-imports` over a copy of the package, so that an import added to the copy
(upward, into a cycle, or into the playground) is what the linter judges, not the tree in the worktree.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # grimp finds the copy's `bot`, not the installed one
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                               "sys.exit(lint_imports_command())", "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = tree / module.replace(".", "/") / "__init__.py"
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest)


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_fails(tree: Path) -> None:
    add_import(tree, "bot.domain.keys", "import bot.slack.blocks  # noqa")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "bot's layers, top to bottom BROKEN" in result.stdout
    assert "bot.domain.keys -> bot.slack.blocks" in result.stdout


def test_runtime_importing_the_listeners_fails(tree: Path) -> None:
    # The circle this contract replaced: Runtime imported the listeners, which import Runtime.
    add_import(tree, "bot.app", "import bot.slack.commands  # noqa")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "bot.app -> bot.slack.commands" in result.stdout


def test_a_cycle_inside_a_package_fails(tree: Path) -> None:
    # bot.slack.commands imports bot.slack.home; the way back closes a cycle within one layer.
    add_import(tree, "bot.slack.home", "import bot.slack.commands  # noqa")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "no cycle between sibling packages or modules, at any depth BROKEN" in result.stdout


def test_serving_code_importing_the_playground_fails(tree: Path) -> None:
    add_import(tree, "bot.web", "import bot.playground.heimdall  # noqa")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "the bot's serving code never imports the playground BROKEN" in result.stdout


def test_domain_doing_io_fails(tree: Path) -> None:
    add_import(tree, "bot.domain.durations", "import asyncio  # noqa")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "bot.domain imports nothing else of the bot and does no I/O BROKEN" in result.stdout


def test_httpx_outside_the_dataos_client_fails(tree: Path) -> None:
    add_import(tree, "bot.identity", "import httpx  # noqa")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "only the DataOS client imports httpx BROKEN" in result.stdout


def test_imports_inside_functions_are_deferred_for_start_up_only() -> None:
    """No import sits inside a function in `bot` unless it says it is deferred (ruff's PLC0415 with a
    `noqa`, and a comment near it saying why)."""
    loose = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom) and "noqa: PLC0415" not in lines[inner.lineno - 1]:
                    loose.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert loose == []
