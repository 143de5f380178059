"""The package's shape: one home per concept, imports that only point down, no stdlib names,
and committed notebooks that are exactly what the generator writes."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "colorlib"
ROOT = PACKAGE.parent

# each module's layer; a module may import its own layer and the ones below, never above
LAYERS = {
    0: {
        "__init__",
        "color",
        "networks",
        "quantize",
        "losses",
        "metrics",
        "fid",
        "pretrained",
        "config",
        "atomic",
        "paths",
        "runtime",
        "replicas",
        "stats",
        "errors",
        "stopping",
    },
    1: {"data"},
    2: {"runs", "checkpoints", "plots", "run_writer"},
    3: {"training", "evaluation", "colorize", "export"},
    4: {"study"},
    5: {"cli", "__main__"},
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}

# every artifact name a run or a study writes is spelled in colorlib/runs.py only
ARTIFACT_NAMES = (
    "metrics_{",
    "metrics_per_image_",
    "training_history_",
    "colorization_results_",
    "val_samples_",
    "test_predictions_",
    "checkpoint_epoch_",
    "model_{",
    "best_model.pt",
    "training_state.pt",
    "run.json",
    "error.txt",
    "metrics_across_seeds_",
    "metrics_per_image_across_seeds_",
    "metric_distributions.png",
    "validation_split.json",
    "Evaluate/",
    "metrics_comparison.csv",
    "comparison_test_image_",
    "paired_tests.csv",
    "colorfulness_test.csv",
    "report.html",
)


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _top(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _code_strings(tree: ast.AST) -> list[str]:
    """String constants that are code, not docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    strings = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]
    for n in ast.walk(tree):  # f"metrics_{model_id}.csv" -> "metrics_{}.csv"
        if isinstance(n, ast.JoinedStr):
            strings.append(
                "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in n.values)
            )
    return strings


def test_no_module_shadows_the_standard_library():
    clashes = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.stem in sys.stdlib_module_names
        or (p.name == "__init__.py" and p.parent.name in sys.stdlib_module_names)
    ]
    assert not clashes


def test_imports_only_point_down():
    wrong = []
    for path in _modules():
        here = _top(path)
        assert here in LAYER_OF, f"{path} has no layer in this test: add it"
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "colorlib" and len(parts) > 1:
                    if LAYER_OF[parts[1]] > LAYER_OF[here]:
                        wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong


def _module_name(path: Path) -> str:
    parts = ("colorlib", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Every colorlib module -> the colorlib modules it imports: at the top, inside functions
    and under ``if TYPE_CHECKING`` alike (``from colorlib.x import y`` counts as an import of
    the module ``colorlib.x.y`` when there is one, else of ``colorlib.x``)."""
    modules = {_module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package up
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]  # fmt: skip
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_inside_the_package():
    """Not even one that only a function-local or ``TYPE_CHECKING`` import closes: a
    package's ``__init__`` may re-export its modules, which then import their siblings, not
    the package."""
    assert _cycles(_import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = _import_graph()
    assert "colorlib.study.results" in graph["colorlib.study.page"]  # edges are seen


MAX_FUNCTION_LINES = 60


def test_no_function_of_colorlib_is_longer_than_60_lines():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long


def test_artifact_names_live_in_one_module():
    homes: dict[str, set[str]] = {name: set() for name in ARTIFACT_NAMES}
    for path in _modules():
        strings = _code_strings(ast.parse(path.read_text()))
        for name in ARTIFACT_NAMES:
            if any(name in s or s == name.rstrip("/") for s in strings):
                homes[name].add(str(path.relative_to(PACKAGE)))
    assert {name: sorted(h) for name, h in homes.items() if h != {"runs.py"}} == {}


def test_the_benchmark_is_not_part_of_the_package():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("colorlib.bench")
    assert (ROOT / "benchmarks" / "bench.py").is_file()


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_committed_notebooks_are_what_the_generator_writes():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
