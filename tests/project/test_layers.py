"""The package's imports point one way, and no module is over 300 lines.

Every import counts: at module level, inside functions, under ``TYPE_CHECKING``, and a
module named in a string (``importlib.import_module("maintenance_env.api")`` behind a
module ``__getattr__``). ``from pkg import name`` is an edge to ``pkg.name`` when that is a
module, else to ``pkg``; the implicit run of a package's ``__init__`` when one of its
submodules is imported is not an edge of its own.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import maintenance_env
from tests.tools import ROOT

PACKAGE = Path(maintenance_env.__file__).parent
#: The docs come from the test tree's checkout (the sdist ships them), not from beside the
#: package: under the wheel's run the package lives in site-packages.
DOCS = ROOT / "docs"

#: The layers, lowest first: a module imports only from its own layer's modules below it
#: in this list, or from lower layers (see the design's section 11.2). A module missing
#: here fails the test: place it when you add it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("parsers", "signals", "printing", "reports", "history", "claims", "fleet", "user_rules", "models", "migrations", "migrations.0001_initial", "catalogues", "csp", "logs", "negotiation", "schedule", "plan", "masking", "matching", "cache_url", "cache_build", "overrides", "sources.dotenv",
     "sources.process", "sources.deadline", "sources.refresher"),
    ("value_rules", "variables"),
    ("webhook", "texts", "sources.base", "sources.mounted", "sources.locking", "sources.writing", "sources.store_values", "sources.store_fleet", "sources.store_client", "sources.store",
     "sources"),
    ("config",),
    ("policy", "live_log"),
    ("live_resolve", "live_health", "live_serving"),
    ("live", "languages"),
    ("source_health", "status_report", "paths", "bypass", "responses"),
    ("runtime", "decision"),
    ("middleware", "decorators", "context_processors", "api", "write_checks", "writes", "admin", "urls", "jobs",
     "testing", "store_checks", "checks",
     "apps", "pytest_plugin", ""),
)  # fmt: skip

#: The request path: it depends on ``policy``, never on the process layer, the command
#: or the platform registry. (The Django entry points, ``middleware``, ``decorators`` and
#: ``context_processors``, are allowed ``runtime``.)
REQUEST_PATH = (
    "decision",
    "bypass",
    "responses",
    "negotiation",
    "logs",
    "paths",
    "languages",
    "policy",
    "middleware",
    "decorators",
    "context_processors",
)
PROCESS_LAYER = ("runtime", "live")
ENTRY_POINTS = ("middleware", "decorators", "context_processors")
#: Outside ``management/`` only the Python API may ask the registry (``Status.platform``).
REGISTRY_USERS = ("api",)

#: Modules allowed over :data:`MAX_LINES`: cohesive tables of platform records.
TABLE_MODULES = frozenset(
    {"platforms/cloud.py", "platforms/containers.py", "platforms/paas.py"}
)  # fmt: skip
MAX_LINES = 300


def module_names(root: Path) -> dict[str, Path]:
    """Every module under ``root`` by dotted name relative to it (``""`` for the package)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(node: ast.AST, here: str, is_package: bool, top: str) -> Iterable[str]:
    """The dotted names (absolute) that one AST node imports or names."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = f"{top}.{here}".rstrip(".").split(".")
            if not is_package:
                base.pop()
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            yield f"{module}.{alias.name}"  # a submodule, or a name in `module`
    elif (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith(f"{top}.")
        and node.value.replace(".", "").replace("_", "").isalnum()
    ):
        yield node.value


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package at ``root`` and the package modules it imports."""
    top = root.name
    modules = module_names(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            for target in _imported(node, name, path.name == "__init__.py", top):
                if target != top and not target.startswith(f"{top}."):
                    continue
                dotted = target[len(top) + 1 :]
                while dotted not in modules and "." in dotted:
                    dotted = dotted.rpartition(".")[0]
                if dotted in modules and dotted != name:
                    edges.add(dotted)
        graph[name] = edges
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _pending_edges(modules: Mapping[str, Path]) -> set[tuple[str, str]]:
    """Edges known to be on their way out: ``variables`` still takes the cache-URL
    grammar from ``sources.store`` until ``cache_url.py`` exists (then this is empty)."""
    if "cache_url" in modules:
        return set()
    return {("variables", "sources.store")}


def layer_violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Imports that point up the :data:`LAYERS`, or break the request path's rules."""
    rank = {name: level for level, names in enumerate(LAYERS) for name in names}
    found = []
    for name, edges in sorted(graph.items()):
        if name.startswith("management") or name.startswith("platforms"):
            continue  # the CLI: may import anything below it
        if name not in rank:
            found.append(f"{name}: not placed in LAYERS")
            continue
        for target in sorted(edges):
            if target.startswith("management"):
                found.append(f"{name} imports the command ({target})")
            elif target.startswith("platforms"):
                if name not in REGISTRY_USERS:
                    found.append(f"{name} imports the platform registry ({target})")
            elif target in rank and rank[target] > rank[name]:
                found.append(f"{name} (layer {rank[name]}) imports {target} (layer {rank[target]})")
        if name in REQUEST_PATH:
            for target in sorted(edges & set(PROCESS_LAYER)):
                if not (name in ENTRY_POINTS and target == "runtime"):
                    found.append(f"{name} is on the request path and imports {target}")
    return found


def check(root: Path) -> list[str]:
    """Everything wrong with the imports of the package at ``root``."""
    modules = module_names(root)
    graph = import_graph(root)
    for source, target in _pending_edges(modules):
        graph.get(source, set()).discard(target)
    problems = [f"import cycle: {' <-> '.join(group)}" for group in cycles(graph)]
    return problems + layer_violations(graph)


def test_the_package_imports_point_one_way() -> None:
    assert check(PACKAGE) == []


def test_no_module_is_over_300_lines_but_the_platform_tables() -> None:
    too_long = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and relative not in TABLE_MODULES:
            too_long[relative] = lines
    assert too_long == {}


def test_the_core_knows_the_platform_names_without_the_registry() -> None:
    from maintenance_env import platforms
    from maintenance_env.value_rules import PLATFORM_NAMES

    assert PLATFORM_NAMES == platforms.NAMES


# --- the checker itself can fail ----------------------------------------------------------


def _fake_package(root: Path, files: Mapping[str, str]) -> Path:
    package = root / "fakepkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


@pytest.mark.parametrize(
    "back_edge",
    [
        "from fakepkg import api\n",  # module level
        "def later():\n    from fakepkg.api import status\n",  # in a function
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fakepkg import api\n",
        "import importlib\n\ndef __getattr__(name):\n"
        "    return importlib.import_module('fakepkg.api')\n",  # through __getattr__
        "from . import api\n",  # relative
    ],
)
def test_a_deliberate_back_edge_is_a_cycle(tmp_path: Path, back_edge: str) -> None:
    package = _fake_package(
        tmp_path,
        {"api.py": "from fakepkg import live\n", "live.py": back_edge, "parsers.py": ""},
    )
    graph = import_graph(package)
    assert graph["api"] == {"live"}
    assert graph["live"] == {"api"}
    assert cycles(graph) == [["api", "live"]]
    assert "import cycle: api <-> live" in check(package)


def test_without_the_back_edge_there_is_no_cycle(tmp_path: Path) -> None:
    package = _fake_package(
        tmp_path, {"api.py": "from fakepkg import live\n", "live.py": "import os\n"}
    )
    assert cycles(import_graph(package)) == []


@pytest.mark.parametrize(
    ("module", "text", "expected"),
    [
        ("responses.py", "from fakepkg import live\n", "responses is on the request path and imports live"),
        ("decision.py", "from fakepkg.runtime import get_state\n", "decision is on the request path and imports runtime"),
        ("policy.py", "from fakepkg.management.commands import x\n", "policy imports the command (management.commands)"),
        ("bypass.py", "from fakepkg import platforms\n", "bypass imports the platform registry (platforms)"),
        ("variables.py", "from fakepkg import runtime\n", "variables (layer 1) imports runtime (layer 8)"),
    ],
)  # fmt: skip
def test_a_request_path_module_importing_the_process_layer_or_the_command_fails(
    tmp_path: Path, module: str, text: str, expected: str
) -> None:
    package = _fake_package(
        tmp_path,
        {
            module: text,
            "live.py": "",
            "runtime.py": "",
            "platforms/__init__.py": "",
            "management/__init__.py": "",
            "management/commands/__init__.py": "",
        },
    )
    assert expected in check(package)


def test_the_entry_points_may_ask_the_runtime(tmp_path: Path) -> None:
    package = _fake_package(
        tmp_path, {"middleware.py": "from fakepkg import runtime\n", "runtime.py": ""}
    )
    assert check(package) == []


def test_the_package_has_one_at_fork_hook() -> None:
    """Every fork runs every hook (``multiprocessing``, Celery's prefork pool, ``subprocess``
    with ``preexec_fn``): one hook, in ``runtime.py``, which calls each module's own
    ``after_fork`` in one known order."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "register_at_fork"
            ):
                found.append(path.relative_to(PACKAGE).as_posix())
    assert found == ["runtime.py"]


def test_the_internals_page_lists_every_module_in_its_layer() -> None:
    """docs/internals.md shows the layers as this test enforces them: each placed module in
    the table of its own layer, none left out, none extra."""
    page = (DOCS / "internals.md").read_text(encoding="utf-8")
    sections = re.split(r"^## (\d+)\. .*$", page, flags=re.M)
    shown = {
        int(number): re.findall(r"^\| `([\w.]+)` \|", body, flags=re.M)
        for number, body in zip(sections[1::2], sections[2::2], strict=True)
    }
    placed = {
        number: [m for m in layer if m not in ("", "migrations", "migrations.0001_initial")]
        for number, layer in enumerate(LAYERS)
    }
    assert shown == placed
