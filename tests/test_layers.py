"""The floors of the design (DESIGN.md §2), enforced on every import under ``src/liveloop``.

Every module is parsed with ``ast`` (imports inside functions and ``TYPE_CHECKING`` blocks included) and
each import is checked: no import of a higher floor, no face importing another face, nothing but the
composition root importing a face or the root, capabilities using each other only in the design's
directions, and no import cycle between packages. A new package must be given a floor here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "liveloop"

#: Each top-level package (or module) of ``liveloop`` and its floor, lowest first.
FLOORS: dict[str, int] = {
    "": 0,  # liveloop/__init__.py: the version only
    "core": 0,  # settings, errors, ids, clock, domain enums, encryption primitives
    "examples": 0,  # the example files of the README tour (data, and a copy function)
    "warehouse": 1,
    "privacy": 2,
    "datasets": 3,
    "ingest": 3,
    "experiments": 3,
    "profiles": 4,
    "recommend": 4,
    "live": 4,
    "content": 4,
    "pricing": 4,
    "budget": 4,
    "campaigns": 4,
    "analytics": 4,
    "http": 5,  # what the HTTP faces share: auth, problem+json errors, middleware
    "demo": 5,  # the demo pipeline the CLI runs
    "explainers": 5,  # the modules that register decision explainers, loaded by the faces
    "api": 6,
    "web": 6,
    "cli": 6,
    "server": 7,  # the composition root: the app serving the API and the dashboard
}
FACES = frozenset({"api", "web", "cli"})
ROOT = "server"
#: Which capabilities a capability may use; one not listed uses none (analytics reads the warehouse).
CAPABILITY_USES: dict[str, frozenset[str]] = {
    "campaigns": frozenset({"profiles", "recommend", "content", "pricing", "analytics"}),
    "content": frozenset({"profiles", "recommend"}),
    "live": frozenset({"recommend", "content", "profiles"}),
}
CAPABILITY_FLOOR = 4


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> Iterator[str]:
    """The ``liveloop`` modules that the file at ``path`` imports, anywhere in it (relative ones resolved)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_names = {p.stem for p in root.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == root.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != root.name:
                continue
            if target == root.name:  # ``from liveloop import demo``: the names are modules
                yield from (f"{target}.{a.name}" if a.name in top_names else target for a in node.names)
            else:
                yield target


def import_edges(root: Path) -> list[tuple[str, str]]:
    """(importer, imported) for every ``liveloop`` import of every module under ``root``."""
    return [
        (module_name(path, root), target)
        for path in sorted(root.rglob("*.py"))
        for target in imports_of(path, root)
    ]


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(edges: Iterable[tuple[str, str]]) -> list[str]:
    """Every import that breaks a floor rule, and every cycle between packages."""
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    for src_module, dst_module in edges:
        src, dst = package_of(src_module), package_of(dst_module)
        if src == dst:
            continue
        graph.setdefault(src, set()).add(dst)
        why = _rule_broken(src, dst)
        if why:
            found.append(f"{src_module} imports {dst_module}: {why}")
    found.extend(f"import cycle between packages: {' -> '.join(c)}" for c in _cycles(graph))
    return found


def _rule_broken(src: str, dst: str) -> str | None:
    for pkg in (src, dst):
        if pkg not in FLOORS:
            return f"liveloop.{pkg} is on no floor (give it one in tests/test_layers.py FLOORS)"
    if dst == ROOT:
        return "nothing imports the composition root"
    if dst in FACES and src != ROOT:
        return (
            "a face imports another face"
            if src in FACES
            else "nothing but the composition root imports a face"
        )
    if FLOORS[dst] > FLOORS[src]:
        return f"{src} (floor {FLOORS[src]}) imports a higher floor, {dst} (floor {FLOORS[dst]})"
    if FLOORS[src] == FLOORS[dst] == CAPABILITY_FLOOR and dst not in CAPABILITY_USES.get(src, ()):
        return f"capability {src} may not use capability {dst}"
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan), each as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append([*sorted(group), min(group)])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_package_keeps_its_floor():
    edges = import_edges(SRC)
    assert len(edges) > 500, "the import scan found too few imports to be reading the package"
    assert violations(edges) == []


def test_every_package_has_a_floor():
    packages = {p.stem for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert packages - {"__init__"} <= set(FLOORS)


@pytest.mark.parametrize(
    ("importer", "imported", "message"),
    [
        ("liveloop.warehouse.entities", "liveloop.privacy.keys", "imports a higher floor"),
        ("liveloop.core.config", "liveloop.warehouse", "imports a higher floor"),
        ("liveloop.profiles.similar", "liveloop.http.auth", "imports a higher floor"),
        ("liveloop.web.login", "liveloop.api.auth", "a face imports another face"),
        ("liveloop.cli.service_cmds", "liveloop.web", "a face imports another face"),
        ("liveloop.http.auth", "liveloop.api.deps", "nothing but the composition root imports a face"),
        ("liveloop.cli.service_cmds", "liveloop.server", "nothing imports the composition root"),
        ("liveloop.recommend.hybrid", "liveloop.profiles.features", "may not use capability profiles"),
        ("liveloop.analytics.overview", "liveloop.live.room", "may not use capability live"),
        ("liveloop.content.compliance", "liveloop.live.nlp", "may not use capability live"),
        ("liveloop.crm.sync", "liveloop.core", "on no floor"),
    ],
)
def test_a_broken_rule_is_reported(importer, imported, message):
    found = violations([(importer, imported)])
    assert len(found) == 1 and message in found[0] and found[0].startswith(f"{importer} imports {imported}")


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("liveloop.live.hub", "liveloop.content.compliance"),
        ("liveloop.campaigns.audiences", "liveloop.pricing"),
        ("liveloop.datasets.loader", "liveloop.ingest.readers"),
        ("liveloop.web.pages.live", "liveloop.http.auth"),
        ("liveloop.cli.service_cmds", "liveloop.demo"),
        ("liveloop.server", "liveloop.web"),
        ("liveloop.warehouse.home", "liveloop.core.crypto"),
    ],
)
def test_an_allowed_import_passes(importer, imported):
    assert violations([(importer, imported)]) == []


def test_a_cycle_between_packages_of_one_floor_is_reported():
    edges = [
        ("liveloop.datasets.loader", "liveloop.ingest.readers"),
        ("liveloop.ingest.engine", "liveloop.datasets"),
    ]
    assert violations(edges) == ["import cycle between packages: datasets -> ingest -> datasets"]


def test_a_bad_module_on_disk_is_caught(tmp_path: Path):
    """A deliberately bad tree: imports inside a function, relative imports and ``from liveloop import``."""
    root = tmp_path / "liveloop"
    for package in ("warehouse", "privacy", "web", "api", "core"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "demo.py").write_text("")
    (root / "warehouse" / "bad.py").write_text(
        "from liveloop.core import config\n\n\ndef later():\n    from liveloop.privacy import keys\n"
    )
    (root / "web" / "page.py").write_text("from ..api import auth\nfrom . import templating\n")
    (root / "core" / "odd.py").write_text("from liveloop import demo\n")
    found = violations(import_edges(root))
    assert sorted(found) == [
        "liveloop.core.odd imports liveloop.demo: core (floor 0) imports a higher floor, demo (floor 5)",
        "liveloop.warehouse.bad imports liveloop.privacy: warehouse (floor 1) imports a higher floor, "
        "privacy (floor 2)",
        "liveloop.web.page imports liveloop.api: a face imports another face",
    ]
