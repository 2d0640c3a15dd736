"""The import contract of ARCHITECTURE.md, held by the code itself.

ARCHITECTURE.md's package table is the contract: each package's row says which other packages it may
import and which of its modules are pure (importing them loads no redis-py). These tests read that table
and the source tree (with `ast`, every import, lazy ones inside functions too), so the document and the
code cannot drift apart. Function length limits are the issue's: none over 90 lines, none over 60 in the
CLI.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "rcdoctor"
DOC = ROOT / "ARCHITECTURE.md"
REDIS_PY = ("redis",)  # the client library; only the transport seam may import it
TRANSPORT_MODULES = {"rcdoctor.transport.errors", "rcdoctor.transport.redis_py"}
MAX_LINES, MAX_CLI_LINES = 90, 60


@dataclass(frozen=True)
class Row:
    package: str
    may_import: frozenset[str]
    pure: tuple[str, ...]  # module name patterns within the package ("*": all of it)


def rows() -> dict[str, Row]:
    """The package table of ARCHITECTURE.md: | `package` | job | may import | pure |."""
    found: dict[str, Row] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`[a-z_]+`", cells[0]):
            continue
        name = cells[0].strip("`")
        may = frozenset(re.findall(r"`([a-z_]+)`", cells[2]))
        pure = ("*",) if cells[3] == "all" else tuple(re.findall(r"`([a-z_*]+)`", cells[3]))
        found[name] = Row(name, may, pure)
    return found


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def imports(path: Path, module: str) -> Iterator[str]:
    """Every module an import statement in the file names, lazy imports inside functions included."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def edges() -> dict[str, set[str]]:
    """Package -> the other rcdoctor packages it imports (the top-level modules count as packages)."""
    known = {package_of(m) for m, _ in modules()} - {""}
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        own = package_of(module)
        for name in imports(path, module):
            if name.startswith("rcdoctor."):
                target = name.split(".")[1]
                if target in known and target != own:
                    graph.setdefault(own, set()).add(target)
    return graph


def test_the_table_names_every_package_once_and_only_real_ones() -> None:
    table = rows()
    packages = {package_of(m) for m, _ in modules()} - {""}
    assert set(table) == packages, f"missing rows: {packages - set(table)}; rows for nothing: {set(table) - packages}"
    for row in table.values():
        assert row.may_import <= packages, f"{row.package} may import unknown {row.may_import - packages}"


def test_every_package_imports_only_what_its_row_allows() -> None:
    table = rows()
    wrong = {
        package: sorted(targets - table[package].may_import)
        for package, targets in edges().items()
        if targets - table[package].may_import
    }
    assert not wrong, f"imports ARCHITECTURE.md does not allow (add them to the row, or fix the code): {wrong}"


def test_no_cycles_between_packages() -> None:
    graph = edges()

    def cycle_from(start: str) -> list[str] | None:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    return [*path, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for c in (cycle_from(p) for p in sorted(graph)) if c]
    assert not cycles, f"package cycles: {cycles}"


def test_nothing_imports_the_cli() -> None:
    offenders = sorted(
        module
        for module, path in modules()
        if package_of(module) not in ("cli", "__main__")
        and any(name == "rcdoctor.cli" or name.startswith("rcdoctor.cli.") for name in imports(path, module))
    )
    assert not offenders, f"the CLI is the top: nothing below it may import it, but {offenders} do"


def test_only_the_transport_seam_imports_redis_py() -> None:
    importers = sorted(
        module for module, path in modules() if any(name.split(".")[0] in REDIS_PY for name in imports(path, module))
    )
    assert importers == sorted(TRANSPORT_MODULES), f"redis-py imported outside transport/: {importers}"


def pure_modules() -> list[str]:
    table = rows()
    chosen = []
    for module, _ in modules():
        package = package_of(module)
        row = table.get(package)
        if row is None or not row.pure:
            continue
        leaf = module.split(".")[2] if module.count(".") >= 2 else "__init__"
        if any(p == "*" or fnmatch.fnmatch(leaf, p) for p in row.pure):
            chosen.append(module)
    return chosen


def test_the_pure_layers_load_no_redis_py_when_imported() -> None:
    # In a fresh interpreter (this one has redis loaded by other tests), one module after another: the
    # first import that brings redis in is the one named.
    chosen = pure_modules()
    assert len(chosen) > 100  # the table marks model, checks, analysis and the planners pure
    probe = (
        "import importlib, json, sys\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    importlib.import_module(name)\n"
        "    if any(m == 'redis' or m.startswith('redis.') for m in sys.modules):\n"
        "        print(name); break\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(chosen)], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "", f"{done.stdout.strip()} is marked pure but importing it loads redis-py"


def functions(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield (
                f"{path.relative_to(SRC)}:{node.lineno}:{node.name}",
                (node.end_lineno or node.lineno) - node.lineno + 1,
            )


def test_no_function_over_90_lines_and_none_over_60_in_the_cli() -> None:
    too_long = []
    for module, path in modules():
        limit = MAX_CLI_LINES if package_of(module) == "cli" else MAX_LINES
        too_long += [f"{where} ({n} lines, limit {limit})" for where, n in functions(path) if n > limit]
    assert not too_long, "split these by step: " + "; ".join(too_long)


def test_one_name_per_idea_no_two_classes_share_a_name() -> None:
    # Three Shard classes and two Settings once meant one search found the wrong one.
    where: dict[str, list[str]] = {}
    for module, path in modules():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(module)
    shared = {name: places for name, places in where.items() if len(places) > 1}
    assert not shared, f"classes sharing a name: {shared}"


# Exceptions that never leave the module raising them, each for a reason: they carry control flow or
# low-level detail that the module itself turns into a DoctorError or an error record.
INTERNAL_EXCEPTIONS = {
    "rcdoctor.model.snapshot_reader.Unreadable",  # the streaming reader's; Snapshot.load raises SnapshotError
    "rcdoctor.probe.resp.RespProtocolError",  # the probe's RESP client; the probe turns it into a verdict
    "rcdoctor.probe.resp.RespTLSError",  # an OSError, so callers treat it as any failed connection
    "rcdoctor.migrate.engine.NodeGone",  # ends one node's batch inside the engine, which records it
    "rcdoctor.interrupts.Interrupted",  # SIGTERM as a KeyboardInterrupt: every clean-up Ctrl-C runs, runs
    # the collector's own RESP connections: an error reply is a value in its place (hiredis builds it);
    # a broken exchange is thrown into the node's conversation, which records it as the node's error
    "rcdoctor.transport.resp.ReplyError",
    "rcdoctor.transport.resp.ProtocolViolation",
    "rcdoctor.transport.multiplex.Broken",
    "rcdoctor.transport.multiplex._NeverRaised",  # stands for ssl's errors where no TLS is spoken: never raised
}


def test_every_exception_is_in_the_one_tree_or_stays_internal() -> None:
    probe = (
        "import importlib, inspect, json, sys\n"
        "from rcdoctor.errors import DoctorError\n"
        "outside = []\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    module = importlib.import_module(name)\n"
        "    for cls in vars(module).values():\n"
        "        if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == name:\n"
        "            if not issubclass(cls, DoctorError):\n"
        "                outside.append(f'{name}.{cls.__name__}')\n"
        "print(json.dumps(outside))\n"
    )
    names = [m for m, _ in modules() if package_of(m) not in ("__main__",)]
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(names)], capture_output=True, text=True, timeout=120, check=True
    )
    outside = set(json.loads(done.stdout))
    assert outside == INTERNAL_EXCEPTIONS, (
        f"exceptions outside DoctorError: {sorted(outside - INTERNAL_EXCEPTIONS)} "
        f"(listed as internal but gone: {sorted(INTERNAL_EXCEPTIONS - outside)})"
    )


def interface(package: str) -> tuple[str | None, list[str] | None]:
    """A package's docstring and its `__all__` (read, not imported: importing may load what it names)."""
    tree = ast.parse((SRC / package / "__init__.py").read_text())
    listed = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            assert isinstance(node.value, ast.List)
            listed = [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return ast.get_docstring(tree), listed


def test_every_package_says_what_it_is_and_what_it_offers() -> None:
    packages = sorted(p.parent.name for p in SRC.glob("*/__init__.py"))
    missing = [p for p in packages if None in interface(p)]
    assert not missing, f"packages without a docstring or an __all__: {missing}"
    for package in packages:
        listed = interface(package)[1] or []
        here = {p.stem for p in (SRC / package).glob("*.py")} | {
            p.name for p in (SRC / package).iterdir() if p.is_dir()
        }
        init = (SRC / package / "__init__.py").read_text()
        ghosts = [
            n for n in listed if n not in here and not re.search(rf"\b{re.escape(n)}\b", init.split("__all__")[0])
        ]
        assert not ghosts, f"rcdoctor.{package}.__all__ names what is neither a module nor defined there: {ghosts}"


def test_a_package_is_used_only_through_what_its_all_offers() -> None:
    # `from rcdoctor.plan.slots import …` in heal would reach past plan's interface: either plan offers the
    # module (it is listed in plan/__init__.py's __all__) or the caller goes through one that is.
    offered = {p.parent.name: set(interface(p.parent.name)[1] or ()) for p in SRC.glob("*/__init__.py")}
    reaching = []
    for module, path in modules():
        own = package_of(module)
        for name in imports(path, module):
            parts = name.split(".")
            if parts[0] != "rcdoctor" or len(parts) < 3 or parts[1] == own or parts[1] not in offered:
                continue
            if parts[2] not in offered[parts[1]]:
                reaching.append(f"{module} -> {name}")
    assert not reaching, f"imports past a package's __all__: {sorted(set(reaching))}"
