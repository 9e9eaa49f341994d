"""The import map: no circle, no arrow from a lower floor up, no outer part using the engine or a private name.

Every `import` in src/mlplab counts, at module level or inside a function (a lazy import is still an arrow).
"""
import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "src" / "mlplab"
# Floors, lowest first; a module may import its own floor or one below. Checked by prefix, longest first.
FLOORS = {
    "mlplab.version": 0, "mlplab.core": 0,
    "mlplab.engine": 1, "mlplab.files": 1, "mlplab.datasets": 1, "mlplab.preprocessing": 1,
    "mlplab.model": 2, "mlplab.training": 2,
    "mlplab": 3,  # the public API (the package's __init__)
    "mlplab.estimators": 4, "mlplab.sweeps": 4, "mlplab.explain": 4, "mlplab.plotting": 4, "mlplab.lessons": 4,
    "mlplab.playground": 4, "mlplab.cli": 5, "mlplab.__main__": 5,
}
ENGINE_USERS = {"mlplab.model", "mlplab.training"}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}
EXTENSIONS = {"mlplab.engine._kernels"}  # compiled (optional): a leaf of the graph


def floor(module: str) -> int:
    prefix = max((p for p in FLOORS if module == p or module.startswith(p + ".")), key=len)
    return FLOORS[prefix]


def imports(module: str):
    """(imported module, names taken from it, line) for every import statement of `module`."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mlplab":
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mlplab":
                continue
            names = [a.name for a in node.names]
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in set(MODULES) | EXTENSIONS]
            for sub in submodules:
                yield sub, [], node.lineno
            rest = [n for n in names if f"{target}.{n}" not in set(MODULES) | EXTENSIONS]
            if rest or not submodules:
                yield target, rest, node.lineno


GRAPH = {m: {t for t, _, _ in imports(m) if t in MODULES and t != m} for m in MODULES}


def test_every_import_names_an_existing_module():
    missing = [(m, t, line) for m in MODULES for t, _, line in imports(m) if t not in set(MODULES) | EXTENSIONS]
    assert not missing, missing


def test_the_import_graph_has_no_circle():
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(MODULES):
        if m not in state:
            visit(m)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_arrow_runs_up_a_floor():
    upward = [f"{m} (floor {floor(m)}) -> {t} (floor {floor(t)})" for m in MODULES for t in GRAPH[m]
              if floor(t) > floor(m)]
    assert not upward, upward


def test_only_the_model_and_training_use_the_engine():
    users = {m for m in MODULES if not m.startswith("mlplab.engine") and any(
        t.startswith("mlplab.engine") for t in GRAPH[m])}
    assert users <= ENGINE_USERS, sorted(users - ENGINE_USERS)


def test_no_private_name_crosses_a_package():
    """`from mlplab.x import _name` only within the package that defines it; no `._attr` of another's object."""
    crossing = []
    for m, path in MODULES.items():
        home = m.split(".")[:2]
        for target, names, line in imports(m):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if target.startswith("mlplab.") and target.split(".")[1].startswith("_"):
                private.append(target)
            if private and target.split(".")[:2] != home:
                crossing.append(f"{m}:{line} takes {private} from {target}")
        text = path.read_text()
        for known in ("._engine", "._entries", "._check_params", "._forward"):
            owner = {"._engine": ENGINE_USERS | {"mlplab.engine.buffers"}, "._entries": {"mlplab.core.registry"}}
            inside = known in ("._forward", "._check_params") and m.startswith("mlplab.engine")  # its own
            if known in text and m not in owner.get(known, set()) and not inside:
                crossing.append(f"{m} reaches {known}")
    assert not crossing, crossing


@pytest.mark.parametrize("folder", ["core", "engine", "files", "cli", "datasets"])
def test_the_readme_layout_names_every_module_of_the_folder(folder):
    readme = (ROOT.parents[1] / "README.md").read_text()
    section = readme[readme.index("## Layout"):]
    section = section[:section.index("\n## ", 4)] if "\n## " in section[4:] else section
    for path in sorted((ROOT / folder).glob("*.py")):
        if path.stem != "__init__":
            assert re.search(rf"\b{path.stem}\b", section), f"README layout does not mention {folder}/{path.name}"
