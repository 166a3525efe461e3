"""Mutation testing of one room with that room's tests: ``python -m tools.mutate ROOM``.

The rooms (source files and the tests that guard them) are in ``mutation_rooms.toml``;
mutants known to be equivalent, with the reason, are in ``mutation_equivalent.toml``.
The library is mutmut 3 (see docs/mutation.md for why). It never touches the real tree:
the working tree (tracked and untracked, not ignored) is copied to ``mutants/ROOM/``
(ignored by git), and mutmut runs there, writing its mutated copy in
``mutants/ROOM/mutants/``. Prints the mutants, killed, equivalent and survived, the killed
share, and every surviving mutant (file, line, the change); ``--min-share`` makes the exit
code 1 below a killed share (CI). Run one room at a time with one worker on a shared machine.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
ROOMS = TOOLS / "mutation_rooms.toml"
EQUIVALENT = TOOLS / "mutation_equivalent.toml"
WORK = REPO / "mutants"  # in .gitignore
PACKAGES = ["scorer", "starter_kit", "baselines"]  # copied whole, so imports resolve there
ALSO_COPY = ["benchmarks", "configs", "data_cards", "tools"]
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}

# Run in the work copy: each mutant's diff as mutmut shows it, as JSON.
DIFF_SCRIPT = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({name: get_diff_for_mutant(name) for name in sys.argv[1:]}))
"""


@dataclass
class Mutant:
    """One mutant's verdict and, for the ones not killed, where and what it changed."""

    name: str
    status: str
    file: str = ""
    line: int = 0
    removed: str = ""
    added: str = ""
    reason: str = ""  # why it is equivalent, when it is listed


def load_rooms() -> dict[str, dict]:
    return tomllib.loads(ROOMS.read_text())


def load_equivalent() -> list[dict]:
    if not EQUIVALENT.exists():
        return []
    return tomllib.loads(EQUIVALENT.read_text()).get("equivalent", [])


def tree_files() -> list[str]:
    """The working tree as others see it: tracked and untracked files git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in out.decode().split("\0") if name]


def lay_out(room: str, spec: dict, keep: bool) -> Path:
    """Copy the tree into ``mutants/ROOM`` and write the room's mutmut settings there."""
    work = WORK / room
    if work.exists() and not keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in tree_files():
        source = REPO / name
        if not source.is_file() or source.is_symlink():
            continue
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    shared = REPO.parent / "shared"  # the public data, where tests/conftest.py looks for it
    if shared.is_dir() and not (work / "shared").exists():
        (work / "shared").symlink_to(shared)
    settings = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {json.dumps(PACKAGES)}",
            f"only_mutate = {json.dumps(spec['source'])}",
            f"also_copy = {json.dumps(ALSO_COPY)}",
            f"pytest_add_cli_args_test_selection = {json.dumps(spec['tests'])}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly"]',
            "",
        ]
    )
    pyproject = work / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + settings)
    return work


def verdicts(work: Path) -> dict[str, str]:
    """Every mutant's status, read from mutmut's meta files."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        found.update({name: status_by_exit_code[code] for name, code in codes.items()})
    return found


def function_start(path: Path, mangled: str) -> int:
    """The first line (decorators included) of the function a mutant name points at."""
    if "ǁ" in mangled:
        _, class_name, name = mangled.split("ǁ")
    else:
        class_name, name = None, mangled.removeprefix("x_")
    tree = ast.parse(path.read_text())
    scopes = [tree]
    if class_name:
        scopes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name]
    for scope in scopes:
        for node in ast.iter_child_nodes(scope):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                return min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return 0


def locate(work: Path, mutant: Mutant, diff: str) -> None:
    """Fill in the file, the line and the change from the mutant's diff."""
    module, _, rest = mutant.name.rpartition(".")
    mangled = rest.rsplit("__mutmut_", 1)[0]
    mutant.file = module.replace(".", "/") + ".py"
    start = function_start(work / mutant.file, mangled)
    removed, added, line, at = [], [], 0, 0
    for text in diff.splitlines():
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            at = int(hunk.group(1))
        elif text.startswith(("---", "+++")):
            continue
        elif text.startswith("-"):
            removed.append(text[1:].strip())
            line = line or at
            at += 1
        elif text.startswith("+"):
            added.append(text[1:].strip())
        elif at:
            at += 1
    mutant.line = start + line - 1 if start and line else 0
    mutant.removed, mutant.added = " ".join(removed), " ".join(added)


def is_listed(mutant: Mutant, entry: dict) -> bool:
    return (
        entry["file"] == mutant.file
        and entry["removed"].strip() == mutant.removed
        and entry["added"].strip() == mutant.added
    )


def describe(work: Path, names: list[str], equivalent: list[dict]) -> list[Mutant]:
    """The mutants not killed, located, with the reason of those known to be equivalent."""
    if not names:
        return []
    result = subprocess.run(
        [sys.executable, "-c", DIFF_SCRIPT, *names],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    diffs = json.loads(result.stdout.strip().splitlines()[-1])
    mutants = []
    for name in names:
        mutant = Mutant(name=name, status="survived")
        locate(work, mutant, diffs[name])
        for entry in equivalent:
            if is_listed(mutant, entry):
                mutant.status, mutant.reason = "equivalent", entry["reason"]
        mutants.append(mutant)
    return mutants


def run_mutmut(work: Path, workers: int, names: list[str], verbose: bool) -> int:
    """mutmut's own run in the copy; its progress goes to ``mutants/ROOM/mutmut.log``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # mutmut forks each mutant's test run from a process that has imported torch: a
    # multi-threaded OpenMP pool does not survive a fork (every mutant would time out).
    env |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(workers)]
    log = work / "mutmut.log"
    with log.open("w") as out:
        sink = None if verbose else out
        code = subprocess.run([*command, *names], cwd=work, env=env, stdout=sink).returncode
    if code != 0 and not verbose:
        print(log.read_text()[-4000:], file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    rooms = load_rooms()
    parser = argparse.ArgumentParser(prog="python -m tools.mutate", description=__doc__)
    parser.add_argument("room", choices=sorted(rooms))
    parser.add_argument("--workers", type=int, default=1, help="mutants tested at once")
    parser.add_argument(
        "--keep", action="store_true", help="reuse mutants/ROOM and its verdicts (tests changed)"
    )
    parser.add_argument("--min-share", type=float, help="exit 1 below this killed share (%%)")
    parser.add_argument("--json", type=Path, help="also write the counts and survivors here")
    parser.add_argument("--verbose", action="store_true", help="show mutmut's own progress")
    parser.add_argument("mutants", nargs="*", help="only (re)run these mutant names")
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = lay_out(args.room, rooms[args.room], args.keep)
    code = run_mutmut(work, args.workers, args.mutants, args.verbose)
    seconds = time.monotonic() - started
    found = verdicts(work)
    if code != 0 or not found:
        print(f"mutmut failed (exit {code}) in {work}", file=sys.stderr)
        return 2
    not_killed = sorted(name for name, status in found.items() if status not in DETECTED)
    described = describe(work, not_killed, load_equivalent())
    for mutant in described:
        if mutant.status != "equivalent":
            mutant.status = found[mutant.name]
    equivalent = [m for m in described if m.status == "equivalent"]
    survivors = [m for m in described if m.status != "equivalent"]
    killed = len(found) - len(described)
    share = 100.0 * killed / max(1, len(found) - len(equivalent))
    timeouts = sum(status == "timeout" for status in found.values())
    print(f"\nroom {args.room}: {len(found)} mutants, {killed} killed ", end="")
    print(f"({timeouts} by a timeout), ", end="")
    print(f"{len(equivalent)} equivalent, {len(survivors)} survived; ", end="")
    print(f"killed share {share:.1f}% in {seconds:.0f} s")
    for mutant in survivors:
        change = f"{mutant.removed!r} -> {mutant.added!r}"
        print(f"  {mutant.file}:{mutant.line}  {mutant.status}  {change}  ({mutant.name})")
    if args.json:
        counts = {"room": args.room, "mutants": len(found), "killed": killed, "timeouts": timeouts}
        counts |= {"equivalent": len(equivalent), "survived": len(survivors)}
        counts |= {"share": round(share, 1), "seconds": round(seconds)}
        counts["survivors"] = [vars(m) for m in survivors]
        args.json.write_text(json.dumps(counts, indent=2) + "\n")
    if args.min_share is not None and share < args.min_share:
        print(f"killed share {share:.1f}% is below {args.min_share}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
