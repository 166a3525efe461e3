"""``lume check-submission``: what the organizers will do, before the deadline, here.

Static checks first (pure, nothing of the submission runs): the file parses, defines
``unlearn`` taking the four official arguments, and every module it imports is installed
here. Then ``lume-score run`` (its command line, a subprocess: the judge's stable entry
point) under the track's budget with ``--evaluate``: the checkpoint it leaves is validated
and scored, and the record (``run.json``) becomes a verdict: would be scored, or not and
why. The run is isolated with bubblewrap as the organizers' is; where bubblewrap is missing
or cannot create namespaces it falls back to ``--isolation none`` with a notice (the
submission is the participant's own code).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scorer.contract import UNLEARN_ARGUMENTS
from scorer.errors import LumeError

LOCAL_ISOLATION = "none"  # the fallback where bubblewrap cannot run


@dataclass(frozen=True)
class Check:
    """One line of the verdict table."""

    name: str
    passed: bool | None  # None: not reached
    detail: str


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    scored: bool
    reason: str | None
    run: dict | None  # run.json, when the run happened
    out: Path | None


# ------------------------------------------------------------------ static checks


def _accepts_four(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    kw_required = [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    return required <= 4 and (positional >= 4 or args.vararg is not None) and not kw_required


def _guarded(tree: ast.Module) -> set[int]:
    """Line numbers of imports inside ``try`` blocks that catch ImportError: optional."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            names = {
                getattr(h.type, "id", None) or getattr(h.type, "attr", None) for h in node.handlers
            }
            if names & {"ImportError", "ModuleNotFoundError", "Exception", None}:
                for inner in node.body:
                    lines.update(n.lineno for n in ast.walk(inner) if hasattr(n, "lineno"))
    return lines


def imported_modules(tree: ast.Module) -> list[str]:
    """Top-level names of the absolute imports a module makes (optional ones left out)."""
    guarded = _guarded(tree)
    names = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in guarded:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return sorted(names)


def missing_modules(names: list[str]) -> list[str]:
    missing = []
    for name in names:
        if name in sys.builtin_module_names or name == "__future__":
            continue
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def static_checks(submission: Path) -> list[Check]:
    """Parse, find ``unlearn``, check the imports; stops at the first failing check."""
    source = submission.read_bytes()
    try:
        tree = ast.parse(source, filename=str(submission))
    except SyntaxError as err:
        return [Check("parses", False, f"line {err.lineno}: {err.msg}")]
    checks = [Check("parses", True, f"{len(source.splitlines())} lines")]
    defined = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "unlearn"
    ]
    if not defined:
        checks.append(Check("defines unlearn()", False, "no top-level def unlearn(...)"))
        return checks
    if isinstance(defined[-1], ast.AsyncFunctionDef) or not _accepts_four(defined[-1]):
        wanted = ", ".join(UNLEARN_ARGUMENTS)
        checks.append(
            Check("defines unlearn()", False, f"it must be a def taking four arguments ({wanted})")
        )
        return checks
    checks.append(Check("defines unlearn()", True, f"line {defined[-1].lineno}, four arguments"))
    names = imported_modules(tree)
    missing = missing_modules(names)
    if missing:
        checks.append(Check("imports installed", False, f"not installed: {', '.join(missing)}"))
        return checks
    checks.append(Check("imports installed", True, f"{len(names)} modules"))
    return checks


# ------------------------------------------------------------------ the run


def local_isolation() -> tuple[str, str | None]:
    """The isolation the organizers use (bubblewrap) where it works on this machine, else
    ``none`` and why: a participant's laptop may lack bubblewrap or user namespaces."""
    from scorer.sandbox.bwrap import find_bwrap, probe

    bwrap = find_bwrap()
    if bwrap is None:
        return LOCAL_ISOLATION, "bubblewrap is not installed"
    complaint = probe(bwrap)
    if complaint is not None:
        return LOCAL_ISOLATION, f"bubblewrap cannot isolate here ({complaint})"
    return "bwrap", None


def run_judge(
    submission: Path,
    track: str,
    root: Path,
    out: Path,
    isolation: str | None,
    timeout: float,
    device: str = "auto",
) -> dict:
    """``lume-score run --evaluate`` under the track's budget; its run.json."""
    argv = [sys.executable, "-m", "scorer.cli", "run", str(submission), "--out", str(out)]
    argv += ["--track", track, "--root", str(root), "--evaluate", "--device", device]
    if isolation is not None:
        argv += ["--isolation", isolation]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LumeError(f"lume-score run did not finish within {timeout:.0f} s") from None
    record = out / "run.json"
    if done.returncode == 2 or not record.is_file():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        why = lines[-1] if lines else f"exit code {done.returncode}"
        raise LumeError(f"lume-score run: {why.removeprefix('error: ')}")
    return json.loads(record.read_text(encoding="utf-8"))


def run_checks(run: dict, threshold: float | None) -> list[Check]:
    """The verdict table's run lines, from run.json."""
    limit = run.get("time_limit_seconds")
    status, reason, scored = run.get("status"), run.get("reason"), bool(run.get("scored"))
    # a timeout with a valid checkpoint is scored (the official rule): not a failure
    passed = status == "ok" or (status == "timeout" and scored)
    checks = [Check("run", passed, status if reason is None else f"{status}: {reason}")]
    wall = run.get("wall_seconds")
    if wall is not None and limit:
        detail = f"{wall:.1f} s of {limit:g} s"
        if status == "timeout":
            detail += " (over: only the checkpoint left at the limit counts)"
        checks.append(Check("time", status != "timeout" or scored, detail))
    validation = run.get("validation") or {}
    violations = validation.get("violations") or []
    if validation.get("ok"):
        checks.append(Check("checkpoint valid", True, "safetensors, same config and tokenizer"))
    else:
        shown = "; ".join(f"{v.get('rule')}: {v.get('message', '')}" for v in violations[:3])
        checks.append(Check("checkpoint valid", False, shown or "no checkpoint"))
    scores = run.get("scores") or {}
    if scores:
        mmlu, passed = scores.get("mmlu"), scores.get("mmlu_passed")
        if threshold is not None and mmlu is not None:
            ok = passed if passed is not None else mmlu >= threshold
            checks.append(Check("MMLU", ok, f"{mmlu:.4f} (threshold {threshold:.4f})"))
        final = scores.get("final_score")
        if final is not None:
            checks.append(Check("score", True, f"final {final:.4f}"))
    return checks


def verdict_of(checks: list[Check], run: dict | None, out: Path | None) -> Verdict:
    failed = [c for c in checks if c.passed is False]
    scored = not failed and run is not None and bool(run.get("scored"))
    reason = None
    if not scored:
        first = failed[0] if failed else None
        reason = f"{first.name}: {first.detail}" if first else "the run was not scored"
    return Verdict(tuple(checks), scored, reason, run, out)
