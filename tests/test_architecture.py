"""The architecture's one rule, checked on the source: arrows point down only.

``starter_kit -> baselines -> scorer``, and inside ``scorer`` from ``cli/`` down to
``data/`` and ``official/``. Every import in every module (at the top or inside a
function) is read with ``ast``; an import that points up or sideways fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from paths import REPO

PACKAGES = ("scorer", "baselines", "starter_kit")
# Inside scorer: a room may import rooms of a lower level only (and itself).
SCORER_LEVELS = {
    "contract": 0,
    "errors": 0,
    "procfs": 0,
    "safe_text": 0,
    "data": 1,
    "templates": 1,
    "official": 2,
    "beyond": 3,
    "engine": 3,
    "checkpoint": 3,
    "tracks": 3,
    "leaderboard": 3,
    "evaluation": 4,
    "report": 4,
    "sandbox": 5,
    "bundle": 6,
    "batch": 6,
    "cli": 7,
}
# The supervisor and the child run as their own interpreters (``python -I -m ...``): they
# and every scorer module they import stay stdlib-only (pynvml is optional, imported in a try).
STDLIB_ROOTS = ("scorer/sandbox/supervisor.py", "scorer/sandbox/child.py")
OPTIONAL = {"pynvml"}


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every module name ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def _room(module: str) -> str | None:
    """``scorer.engine.batched`` -> ``engine``; None outside scorer and for names that
    ``scorer/__init__.py`` defines (``__version__``)."""
    parts = module.split(".")
    if parts[0] != "scorer" or len(parts) < 2 or _module_file(".".join(parts[:2])) is None:
        return None
    return parts[1]


def _module_file(name: str) -> Path | None:
    """The source file of module ``name`` (a package's ``__init__.py``), if it is ours."""
    base = REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _stdlib_only_closure() -> set[str]:
    """The entry points of the supervisor and the child, and every module of ours they reach."""
    todo, seen = [REPO / root for root in STDLIB_ROOTS], set()
    while todo:
        path = todo.pop()
        if str(path.relative_to(REPO)) in seen:
            continue
        seen.add(str(path.relative_to(REPO)))
        todo += [f for f in map(_module_file, _imports(path)) if f is not None]
    return seen


def violations() -> list[str]:
    found = []
    stdlib_only = _stdlib_only_closure()
    for path in _modules():
        source = path.relative_to(REPO)
        package = source.parts[0]
        room = _room(".".join(source.with_suffix("").parts))
        for name in _imports(path):
            top = name.split(".")[0]
            if top not in PACKAGES:
                if str(source) in stdlib_only and top not in _stdlib() | OPTIONAL:
                    found.append(f"{source}: imports {name}, but it must stay stdlib-only")
                continue
            if PACKAGES.index(top) > PACKAGES.index(package):
                found.append(f"{source}: {package} imports {name} (arrows point down)")
            target = _room(name)
            if package == "scorer" and room and target and target != room:
                if target not in SCORER_LEVELS or room not in SCORER_LEVELS:
                    found.append(f"{source}: unknown room in {name}")
                elif SCORER_LEVELS[target] >= SCORER_LEVELS[room]:
                    found.append(f"{source}: scorer/{room} imports {name} (not below it)")
    return found


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names) | {"__future__"}


def test_imports_point_down_only():
    assert violations() == []


def test_the_check_sees_an_arrow_pointing_up():
    bad = REPO / "scorer" / "data" / "_architecture_probe.py"
    bad.write_text("from scorer.cli import tables\nimport baselines.methods\n")
    try:
        found = violations()
    finally:
        bad.unlink()
    assert (
        "scorer/data/_architecture_probe.py: scorer/data imports scorer.cli (not below it)" in found
    )
    assert any("scorer imports baselines.methods" in line for line in found)


def test_the_supervisor_and_the_child_reach_only_stdlib_only_modules():
    reached = _stdlib_only_closure()
    assert {
        "scorer/sandbox/supervisor.py",
        "scorer/sandbox/child.py",
        "scorer/contract.py",
    } <= reached
    assert not any(
        m.startswith(("scorer/engine", "scorer/evaluation", "scorer/cli")) for m in reached
    )


ADDRESS = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def off_machine_addresses(text: str) -> list[str]:
    """Literal IPv4 addresses in ``text`` outside loopback and 0.0.0.0 (any private or
    public address is off this machine: no test or tool may name one)."""
    found = []
    for match in ADDRESS.finditer(text):
        parts = [int(p) for p in match.groups()]
        if max(parts) > 255 or parts[0] == 127 or parts == [0, 0, 0, 0]:
            continue
        found.append(match.group(0))
    return found


def test_no_test_or_tool_names_an_address_off_this_machine():
    """Traffic stays on loopback: a network probe that names a public address proves
    nothing on an offline machine and sends traffic away where the sandbox fails."""
    assert off_machine_addresses("to 1.1.1.1 port 53, 10.0.0.2, 127.0.0.1, 0.0.0.0") == [
        "1.1.1.1",
        "10.0.0.2",
    ]
    assert off_machine_addresses("version 1.2.3, 1.2.3.4.5, 300.1.1.1") == []
    offenders = []
    for folder in ("tests", "benchmarks", "scorer", "baselines", "starter_kit"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            for address in off_machine_addresses(path.read_text(errors="replace")):
                offenders.append(f"{path.relative_to(REPO)}: {address}")
    assert offenders == []
