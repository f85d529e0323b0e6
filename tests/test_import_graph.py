"""The packages import one way: shots → generation / consistency / storage → production →
review → flows. Read from the source (every import, inside functions too), so a circle hidden
behind a function-local import is found as well."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"shots": 0, "generation": 1, "consistency": 1, "storage": 1, "production": 2, "review": 3, "flows": 4}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from a import b`` gives ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for package in LAYERS for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    modules = {_module(p): p for p in files}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_package_imports_one_above_it() -> None:
    back = sorted(
        f"{source} imports {target}"
        for source, targets in _graph().items()
        for target in targets
        if LAYERS[target.split(".")[0]] > LAYERS[source.split(".")[0]]
    )
    assert back == []


def test_no_module_imports_itself_through_others() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target] if target in path else [name, target])
            elif target not in state:
                visit(target, path + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # a package's __init__ importing its own modules is not a circle of the design
    circles = [c for c in circles if not any(m == c[0].split(".")[0] for m in c)]
    assert circles == []


def test_prefect_is_imported_only_under_flows() -> None:
    users = sorted(
        str(p.relative_to(ROOT))
        for package in LAYERS if package != "flows"
        for p in (ROOT / package).rglob("*.py")
        if any(m == "prefect" or m.startswith("prefect.") for m in _imports(p))
    )
    assert users == []


def test_the_domain_imports_no_torch_and_no_database() -> None:
    heavy = sorted(
        f"{p.relative_to(ROOT)}: {m}"
        for p in (ROOT / "shots").rglob("*.py")
        for m in _imports(p)
        if m.split(".")[0] in ("torch", "diffusers", "sqlalchemy", "prefect")
    )
    assert heavy == []
