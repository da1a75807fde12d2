"""The package structure of docs/architecture.md, checked from the source.

Every import is read with ``ast`` wherever it sits in a file (module level, inside a
function, under ``TYPE_CHECKING``), so an import placed in a function to hide a cycle or a
forbidden dependency is found like any other.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("contract", "gateway", "ingestor", "analytics")
MAX_LINES = 500

# What the shared package must never import: the services, and network or database
# clients (it is the contract, read by all of them and by pure logic).
CONTRACT_FORBIDDEN = (
    "gateway", "ingestor", "analytics", "tests",
    "psycopg", "paho", "pymodbus", "serial", "socket", "ssl", "http", "urllib.request",
    "smtplib", "asyncio", "subprocess", "starlette", "uvicorn", "httpx", "requests",
)  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def product_modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PRODUCT for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imported_names(path: Path) -> Iterator[tuple[str, int]]:
    """Every module name an import statement in ``path`` names, with its line (absolute;
    relative imports resolved; ``from a import b`` yields ``a.b`` and ``a``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno


def _resolve(name: str) -> str | None:
    """The product module ``name`` is or lies in (None: not ours)."""
    modules = product_modules()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@cache
def edges() -> dict[str, dict[str, int]]:
    """module -> {product module it imports: first line}."""
    out: dict[str, dict[str, int]] = {}
    for module, path in product_modules().items():
        targets: dict[str, int] = {}
        for name, line in _imported_names(path):
            target = _resolve(name)
            if target is not None and target != module:
                targets.setdefault(target, line)
        out[module] = targets
    return out


def _violations(source: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for module, path in product_modules().items():
        if module.split(".")[0] != source:
            continue
        for name, line in _imported_names(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return sorted(set(found))


def test_ingestor_and_analytics_never_import_the_gateway() -> None:
    assert _violations("ingestor", ("gateway",)) == []
    assert _violations("analytics", ("gateway",)) == []


def test_analytics_imports_nothing_from_the_ingestor() -> None:
    assert _violations("analytics", ("ingestor",)) == []


def test_the_shared_package_imports_no_service_and_no_network_or_database() -> None:
    assert _violations("contract", CONTRACT_FORBIDDEN) == []


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root, first in graph.items():
        if root in index:
            continue
        work = [(root, iter(first))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _package_edges(graph: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The graph without the edges from a package's ``__init__`` to its own modules
    (importing ``a.b`` runs ``a/__init__`` first: that is loading order, not a cycle)."""
    out: dict[str, dict[str, int]] = {}
    modules = product_modules()
    for module, targets in graph.items():
        is_package = modules[module].name == "__init__.py"
        out[module] = {
            t: line
            for t, line in targets.items()
            if not (is_package and t.startswith(module + "."))
        }
    return out


def test_no_import_cycle_among_product_modules_deferred_imports_included() -> None:
    graph = _package_edges(edges())
    cycles = _cycles(graph)
    described = [
        "; ".join(f"{m} -> {t} (line {line})" for m in c for t, line in graph[m].items() if t in c)
        for c in cycles
    ]
    assert cycles == [], "\n".join(described)


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [
        ["a", "b", "c"]
    ]
    assert _cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_product_or_script_module_is_over_500_lines() -> None:
    paths = [*product_modules().values(), *sorted((ROOT / "scripts").rglob("*.py"))]
    long = {
        str(p.relative_to(ROOT)): n
        for p in paths
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def _product_sources() -> Iterator[tuple[Path, str]]:
    for path in product_modules().values():
        yield path, path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("what", "pattern", "homes"),
    [
        # one strict base of every config model
        ("strict base", r"extra\s*=\s*[\"']forbid", ["contract/settings.py"]),
        # one named-query loader (its header pattern)
        ("query loader", r"-- name: \(", ["contract/sqlfiles.py"]),
        # one validator per shared setting; configs use its annotated type
        ("database URL check", r"def check_database_url|LIBPQ_KEYWORDS\s*[:=]", ["contract/settings.py"]),
        ("MQTT URL parser", r"def parse\(url", ["contract/mqtt_url.py"]),
        ("topic root check", r"def check_root", ["contract/messages.py"]),
        ("per-model URL/root validator", r"field_validator\([^)]*(topic_root|mqtt_url|database_url|\"url\")", []),
    ],
)  # fmt: skip
def test_shared_machinery_is_written_once(what: str, pattern: str, homes: list[str]) -> None:
    regex = re.compile(pattern)
    where = sorted(str(p.relative_to(ROOT)) for p, text in _product_sources() if regex.search(text))
    assert where == homes, f"{what} written in {where}"


def test_scripts_do_not_reach_into_tests() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{line} imports {name}"
        for p in sorted((ROOT / "scripts").rglob("*.py"))
        for name, line in _imported_names(p)
        if name == "tests" or name.startswith("tests.")
    ]
    edits = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "scripts").rglob("*.py"))
        if "sys.path.insert" in p.read_text(encoding="utf-8")
    ]
    assert (found, edits) == ([], [])


# Pure logic, tested fast and alone: nothing it reaches, through any chain of product
# imports, opens a network connection, a database session or a serial port.
PURE = (
    "gateway.decode", "gateway.planner", "gateway.registers", "gateway.plantfile",
    "gateway.mapmodel", "gateway.timing",
    "ingestor.validate", "ingestor.batcher", "ingestor.legacy_map",
    "analytics.detection.rules", "analytics.detection.rulebase", "analytics.detection.extremes",
    "analytics.detection.quality", "analytics.detection.events", "analytics.detection.seasonal",
    "analytics.detection.baseline", "analytics.demand.control", "analytics.summaries.text",
    "analytics.reports.layout", "analytics.reports.charts", "analytics.reports.content",
    "analytics.reports.daily", "analytics.reports.fortnightly", "analytics.api.params",
    "analytics.i18n",
)  # fmt: skip
IO_CLIENTS = ("psycopg", "paho", "pymodbus", "serial", "socket", "smtplib", "starlette", "uvicorn")


def _reached(start: str) -> set[str]:
    """``start`` and every product module it imports, directly or through others (a
    module's packages included: importing ``a.b`` runs ``a/__init__``)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        todo.extend([*edges()[module], *(p for p in parents if p in product_modules())])
    return seen


@pytest.mark.parametrize("module", PURE)
def test_pure_logic_reaches_no_network_database_or_serial_client(module: str) -> None:
    assert module in product_modules()
    found = sorted(
        f"{m} imports {name}"
        for m in _reached(module)
        for name, _line in _imported_names(product_modules()[m])
        if name.split(".")[0] in IO_CLIENTS
    )
    assert found == []
