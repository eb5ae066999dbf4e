"""The layering of docs/architecture.md, checked: no import cycle among the packages' modules, the runtime imports
neither training nor the bridge, and the CLI's help imports no heavy library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"uniflg": ROOT / "sdk" / "uniflg", "uniflg_train": ROOT / "training" / "uniflg_train",
            "uniflg_bridge": ROOT / "engine_bridge" / "uniflg_bridge"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the packages that ``name`` imports anywhere (functions included, ``TYPE_CHECKING`` blocks not)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a non-module name: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_cycle_among_the_packages_modules(import_graph: dict[str, set[str]]) -> None:
    assert len(import_graph) > 80  # the walk found the packages
    assert "uniflg.model.io" in import_graph["uniflg_train.checkpoint"]  # and their imports
    assert _cycles(import_graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_runtime_imports_neither_training_nor_the_bridge(import_graph: dict[str, set[str]]) -> None:
    leaks = {m: sorted(t for t in targets if t != "uniflg" and not t.startswith("uniflg."))
             for m, targets in import_graph.items() if m.startswith("uniflg.") or m == "uniflg"}
    assert {m: t for m, t in leaks.items() if t} == {}


HEAVY = ("torch", "grpc", "scipy")


@pytest.mark.parametrize("argv", [["--help"], ["speak", "--help"], ["serve", "--help"], ["eval", "--help"]])
def test_cli_help_imports_no_heavy_library(argv: list[str]) -> None:
    code = (f"import sys\nfrom uniflg.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout[-2000:]


def test_speak_imports_neither_torch_nor_scipy_signal(tmp_path: Path) -> None:
    """A whole `uniflg speak` on ONNX Runtime: resampling and input conditioning (scipy.signal, ~1 s of import)
    belong to the speech-driven path, and torch to the torch backend."""
    code = ("import sys\nfrom uniflg.cli import main\n"
            f"rc = main(['speak', 'こんにちは', '-o', {str(tmp_path / 'out')!r}, '--no-preview', '--backend', "
            "'onnxruntime'])\n"
            "print(rc, sorted(m for m in sys.modules if m in ('torch', 'scipy.signal', 'grpc')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stdout[-2000:] + proc.stderr[-2000:]
