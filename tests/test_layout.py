"""The package's shape: imports flow one way (no cycles, domain code never imports cli/ or web/),
and no module grows past 500 lines. Read from the source with `ast`, so nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pain_news"
MAX_LINES = 500
LAYERS_ON_TOP = ("pain_news.cli", "pain_news.web")  # nothing below them may import them
ENTRY_POINTS = {"pain_news.__main__"}  # `python -m pain_news` runs the CLI: above every layer

# The store layer: the only modules that may talk SQL (issue 8: one owner of the database).
STORE_LAYER = ("pain_news.db", "pain_news.db.models", "pain_news.subscribers.store", "pain_news.ledger")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package except the Alembic migrations (generated, linear by design)."""
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.relative_to(PACKAGE).parts
    }


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The `known` modules that `tree` imports anywhere (in functions too), except under TYPE_CHECKING.

    `from x import name` counts x.name when that is a module, else x itself.
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return (found & known) - {module}


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports."""
    modules = package_modules()
    return {
        name: imported_modules(
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path)),
            name,
            path.name == "__init__.py",
            set(modules),
        )
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    # The shape issue 8 named: a registry importing its providers inside a function, the providers
    # importing the registry at the top.
    source = {
        "pain_news.delivery.base": "def get():\n    from pain_news.delivery.smtp import Smtp\n",
        "pain_news.delivery.smtp": "from pain_news.delivery.base import Provider\n",
        "pain_news.errors": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pain_news.delivery.base\n",
    }
    graph = {
        name: imported_modules(ast.parse(text), name, False, set(source)) for name, text in source.items()
    }
    assert graph["pain_news.errors"] == set()  # type-only imports do not run
    assert find_cycle(graph) == [
        "pain_news.delivery.base",
        "pain_news.delivery.smtp",
        "pain_news.delivery.base",
    ]


def test_domain_modules_never_import_the_cli_or_web_layer():
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if not name.startswith(LAYERS_ON_TOP) and name not in ENTRY_POINTS
        for target in targets
        if target.startswith(LAYERS_ON_TOP)
    )
    assert offenders == []


def test_the_web_layer_never_imports_the_cli():
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if name.startswith("pain_news.web")
        for target in targets
        if target.startswith("pain_news.cli")
    )
    assert offenders == []


def test_no_module_is_over_500_lines():
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in package_modules().items()
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert too_long == {}, f"over {MAX_LINES} lines (split by job): {too_long}"


def test_only_the_store_layer_imports_sqlalchemy():
    offenders = []
    for name, path in package_modules().items():
        if name.startswith(STORE_LAYER):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{name}:{node.lineno}" for n in names if n.split(".")[0] == "sqlalchemy"]
    assert offenders == [], "SQL belongs to the store layer (store*, ledger/, db, models): " + ", ".join(
        offenders
    )


def test_every_file_the_package_reads_is_shipped_in_the_wheel():
    # Templates, scaffold files, web pages and migrations are read from the package at run time: a
    # file no package-data pattern names is missing from a non-editable install (`init` without
    # templates). default_templates is a link to templates/, so that folder counts too.
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pain_news"]
    data_files = [
        path.relative_to(PACKAGE).as_posix()
        for folder in ("default_templates", "scaffold", "web/templates", "web/static", "migrations")
        if (PACKAGE / folder).exists()
        for path in sorted((PACKAGE / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert data_files, "found no data files: the package layout changed"
    shipped = {p.relative_to(PACKAGE).as_posix() for pattern in patterns for p in PACKAGE.glob(pattern)}
    unshipped = [f for f in data_files if f not in shipped]
    assert unshipped == []
