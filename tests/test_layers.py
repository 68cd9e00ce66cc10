"""The layer contract, read from the source (no import is executed): imports point one way,
``backhub_pipeline -> assets -> resources``; the emulator stands alone; only the command line (the demo
is one of its commands) loads the code location; and no two of our modules import each other, directly
or around a loop. Function-level imports count as much as module-level ones."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMULATOR = "github_emulator"
APPLICATION = ("backhub_pipeline", "assets", "resources")
#: The only modules of ours, tests and bench aside, that may import the emulator: its command, and the
#: demo, which starts it through the emulator's own process helper.
EMULATOR_ENTRIES = ("backhub_pipeline.cli.emulator", "backhub_pipeline.cli.demo")
DEFINITIONS = "backhub_pipeline.definitions"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    """Every module of ours (the application packages and the emulator) -> its file."""
    found: dict[str, Path] = {}
    for top in {package.split(".")[0] for package in (*APPLICATION, EMULATOR)}:
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _type_only(tree: ast.AST) -> set[int]:
    """The import statements under ``if TYPE_CHECKING:``: annotations only, never executed."""
    return {id(child) for node in ast.walk(tree) if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            for statement in node.body for child in ast.walk(statement)}


def _imported(module: str, path: Path, known: set[str], *, runtime_only: bool = False) -> Iterator[str]:
    """The modules of ours ``module`` imports, anywhere in its file (``runtime_only``: leaving out
    imports for type annotations, which cannot make a loop at run time)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports the module a.b when there is one, else a name of a.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                yield target


def _graph(*, runtime_only: bool = False) -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {module: set(_imported(module, path, known, runtime_only=runtime_only))
            for module, path in sources.items()}


def _violations(rule: str, graph: dict[str, set[str]], importer, imported) -> list[str]:
    return [f"{rule}: {source} imports {target}" for source, targets in sorted(graph.items()) if importer(source)
            for target in sorted(targets) if imported(target)]


def test_resources_import_nothing_of_ours_above_them() -> None:
    graph = _graph()
    assert _violations("resources -> nothing above", graph, lambda m: _within(m, "resources"),
                       lambda t: not _within(t, "resources")) == []


def test_assets_do_not_import_the_application() -> None:
    graph = _graph()
    assert _violations("assets -> resources only", graph, lambda m: _within(m, "assets"),
                       lambda t: _within(t, "backhub_pipeline")) == []


def test_the_emulator_imports_nothing_of_ours() -> None:
    graph = _graph()
    assert _violations("the emulator stands alone", graph, lambda m: _within(m, EMULATOR),
                       lambda t: not _within(t, EMULATOR)) == []


def test_only_the_emulator_command_and_the_demo_import_the_emulator() -> None:
    graph = _graph()
    assert _violations("the emulator is used through its entry", graph,
                       lambda m: not _within(m, EMULATOR) and m not in EMULATOR_ENTRIES,
                       lambda t: _within(t, EMULATOR)) == []


def test_only_the_command_line_loads_the_code_location() -> None:
    graph = _graph()
    assert _violations("definitions are loaded by the CLI only", graph,
                       lambda m: not _within(m, "backhub_pipeline.cli"), lambda t: t == DEFINITIONS) == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_two_of_our_modules_import_each_other_around_a_loop() -> None:
    cycle = _cycle(_graph(runtime_only=True))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_names_the_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
