"""The package's import structure (issue 15): no import cycle among in-project modules (imports inside function
bodies included, parsed with ``ast``), nothing in ``hmtl_tf/`` imports ``data_prep`` or ``experiments``, the model
registry below the families, and every module importable."""
import ast
import importlib
import pathlib

import pytest

from tests.helpers import REPO as ROOT

PACKAGE = ROOT / "hmtl_tf"
UPWARD = ("data_prep", "experiments")
# Cycles allowed (none since the run-directory protocol moved to hmtl_tf.rundir); the test fails when a new cycle
# appears AND when a listed one is gone (then delete it from this list).
KNOWN_CYCLES = set()
# Upward imports allowed (none since the converter's library part moved to hmtl_tf.data.convert).
KNOWN_UPWARD = set()


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: pathlib.Path):
    """Every absolute import anywhere in the file (module level and inside functions), as dotted names;
    ``from a.b import c`` gives ``a.b.c`` (the submodule, when it is one) and ``a.b``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [a.name]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [f"{node.module}.{a.name}" for a in node.names]


def import_graph(modules):
    """{module: in-project modules it imports}; ``from pkg import sub`` is an edge to ``pkg.sub`` only (the package
    ``__init__`` every submodule import runs is not counted as an edge of its own)."""
    graph = {}
    for name, path in modules.items():
        out = set()
        for module, members in imported_names(path):
            subs = [m for m in members if m in modules]
            targets = subs if subs else [module]
            if subs and len(subs) < len(members):  # some names are attributes of ``module`` itself
                targets.append(module)
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    out.add(t)
        graph[name] = out
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return set(found)


def test_cycle_finder_sees_a_function_body_cycle(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import os\n\ndef f():\n    from pkg.b import g\n")
    b.write_text("from pkg import a\n")
    graph = import_graph({"pkg.a": a, "pkg.b": b})
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert cycles(graph) == {frozenset({"pkg.a", "pkg.b"})}
    b.write_text("import os\n")
    assert cycles(import_graph({"pkg.a": a, "pkg.b": b})) == set()


def test_no_import_cycle_in_the_package():
    found = cycles(import_graph(package_modules()))
    new = found - KNOWN_CYCLES
    assert not new, "import cycle(s): " + "; ".join(" <-> ".join(sorted(c)) for c in new)
    gone = KNOWN_CYCLES - found
    assert not gone, f"fixed, delete from KNOWN_CYCLES: {sorted(map(sorted, gone))}"


def test_package_never_imports_the_scripts_folders():
    bad = set()
    for name, path in package_modules().items():
        for module, _ in imported_names(path):
            if module.split(".")[0] in UPWARD:
                bad.add((name, module))
    assert not bad - KNOWN_UPWARD, f"hmtl_tf imports data_prep/experiments: {sorted(bad - KNOWN_UPWARD)}"
    assert not KNOWN_UPWARD - bad, f"fixed, delete from KNOWN_UPWARD: {sorted(KNOWN_UPWARD - bad)}"


def test_models_never_import_their_peers():
    graph = import_graph(package_modules())
    for name, deps in graph.items():
        if name.startswith("hmtl_tf.models"):
            peers = [d for d in deps if d.startswith(("hmtl_tf.kdoe", "hmtl_tf.mnn"))]
            assert not peers, f"{name} imports {peers}: register the family from its own package instead"


def test_the_data_layer_never_imports_models_or_peers():
    """Issue 15 item 3: peer-specific data ops (KD-OE's rotation, MNN's augmentation set) live in the data layer."""
    graph = import_graph(package_modules())
    for name, deps in graph.items():
        if name.startswith("hmtl_tf.data"):
            up = [d for d in deps if d.startswith(("hmtl_tf.kdoe", "hmtl_tf.mnn", "hmtl_tf.models", "hmtl_tf.train"))]
            assert not up, f"{name} imports {up}: the data layer sits below the models and the peers"


@pytest.mark.parametrize("name", sorted(package_modules()))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_every_family_is_registered():
    from hmtl_tf import config as C
    from hmtl_tf import families

    assert families.registered_families() == tuple(sorted(C.FAMILIES))
    with pytest.raises(C.ConfigError, match="--family='nope'"):
        families.get_family(C.TrainConfig(model=C.ModelConfig(family="nope")))
