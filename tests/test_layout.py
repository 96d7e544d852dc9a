"""The package's shape: short modules and classes, imports that run one way, runtime branches kept inside
``backends/``, and documents of a reference's length without words about how the work was done."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "meteorfast"


def _sources() -> dict[str, Path]:
    """Module name -> file, for every module of the source checkout's package."""
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("needs the source checkout")
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports, anywhere in it (inside functions and under TYPE_CHECKING too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def known(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            targets = [f"{module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {t for t in map(known, targets) if t is not None and t.startswith("meteorfast") and t != name}
    return found


def test_no_module_is_over_600_lines_and_no_class_over_300() -> None:
    long_modules, long_classes = [], []
    for name, path in _sources().items():
        text = path.read_text()
        if text.count("\n") > 600:
            long_modules.append(name)
        for node in ast.walk(ast.parse(text)):
            too_long = isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno + 1 > 300
            if too_long:
                long_classes.append(f"{name}.{getattr(node, 'name', '')}")
    assert not long_modules, long_modules
    assert not long_classes, long_classes


def test_imports_run_one_way() -> None:
    modules = _sources()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # A cycle through packages: a module's package imports it, so a module that imports its own package's
    # __init__ (or a sibling through it) is left to the package; every other path back is a cycle.
    cycles = []
    for start in graph:
        seen, todo = set(), [(start, (start,))]
        while todo:
            node, path = todo.pop()
            for nxt in graph[node]:
                if nxt == start and not start.startswith(nxt + ".") and not nxt.startswith(start + "."):
                    cycles.append(" -> ".join((*path, nxt)))
                elif nxt not in seen:
                    seen.add(nxt)
                    todo.append((nxt, (*path, nxt)))
    assert not cycles, cycles[:5]


def test_the_lower_layers_never_import_the_detector_or_the_cli() -> None:
    modules = _sources()
    top = {"meteorfast.detector", "meteorfast.cli"}
    for layer in ("meteorfast.analysis", "meteorfast.cam", "meteorfast.backends", "meteorfast.judges",
                  "meteorfast.stream", "meteorfast.results"):  # fmt: skip
        for name, path in modules.items():
            if name == layer or name.startswith(layer + "."):
                above = {m for m in _imports(name, path, modules) if m in top or m.startswith("meteorfast.cli.")}
                assert not above, (name, above)


def test_no_runtime_branch_outside_backends() -> None:
    branch = re.compile(r"""\.name\s*[!=]=\s*["'](tensorrt|onnxruntime)["']|name\s*==\s*["']tensorrt["']""")
    hits = [
        f"{name}: {line.strip()}"
        for name, path in _sources().items()
        if not name.startswith("meteorfast.backends")
        for line in path.read_text().splitlines()
        if branch.search(line)
    ]
    assert not hits, hits


DOC_LIMITS = {"README.md": 300, "benchmarks/RESULTS.md": 800, "meteorfast/data/models/MODEL_CARD.md": 200}


@pytest.mark.parametrize("doc", sorted(DOC_LIMITS))
def test_the_documents_are_within_their_lengths(doc: str) -> None:
    path = REPO / doc
    if not path.is_file():
        pytest.skip(f"needs the source checkout ({doc})")
    assert path.read_text().count("\n") <= DOC_LIMITS[doc]


# Words about how the work was done (a numbered stop, an issue's number) have no place in the project's files.
PROCESS_WORDS = re.compile(r"\b(stops? \d+|(this|next|last|previous) stop|issues? \d+|the \w+ issue)\b", re.I)


def test_no_process_words_in_the_repository() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("needs the source checkout")
    hits = []
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO)
        if re.search(r"stop_?\d+", rel.name, re.I):
            hits.append(f"{rel}: the file's name")
        if rel.parts[0] in (".git", "build", "dist", ".ruff_cache", ".mypy_cache", ".hypothesis") or not path.is_file():
            continue
        if path.suffix not in (".py", ".md", ".toml", ".txt", ".cfg", ".pyx", ".pxd", ".pyi", ".h", ".cpp", ".cu"):
            continue
        if rel.parts[:2] == ("tests", "data"):
            continue  # recorded symbol lists and outputs, not prose
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if PROCESS_WORDS.search(line) and path.name != "test_layout.py":
                hits.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits[:30])
