"""The runner's own overhead, before (the runner at git HEAD) and after (this tree's, with
``--isolation bwrap`` and ``none``), in one run.

    python benchmarks/bench_runner.py --track DIR      # a `lume mini build` directory
    python benchmarks/bench_runner.py --track DIR --runs 5
    python benchmarks/bench_runner.py --track DIR --submission-seconds 10

Each variant runs the same submission (it copies the model and returns) ``--runs`` times,
each in a fresh interpreter, as ``lume-score run`` would. Reported per variant: the median
of run.json's ``runner.overhead_seconds`` (checks, staging, the supervisor, freezing and
validating the checkpoint: everything but the submission's own wall time) and of the whole
call, then the ratios after / before, and the validator's own process (``validation.process``:
the seconds from the frozen copy to its report, its CPU seconds including the imports it
did while the submission ran, its peak RSS). "before" is HEAD's ``scorer`` package, exported with
``git archive`` into a temporary directory and run by a throw-away venv that sees it
first (needs git; run as root for the isolation the judge uses). The submission's wall
time is printed too: it must not change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBMISSION = """
import shutil
import time
from pathlib import Path


def unlearn(model, output, forget, retain):
    time.sleep(SECONDS)
    for item in Path(model).iterdir():
        shutil.copyfile(item, Path(output) / item.name)
"""
RUN = """
import json, sys, time
from pathlib import Path
from scorer.sandbox.options import build_options
from scorer.sandbox.runner import run_submission
args = json.loads(sys.argv[1])
started = time.perf_counter()
options = build_options(Path(args["submission"]), Path(args["out"]), None, None, None, None, None,
                        "mini", Path(args["root"]), None, grace=1.0, **args["extra"])
record = run_submission(options)
process = record["validation"].get("process") or {}
print(json.dumps({"call": time.perf_counter() - started, "status": record["status"],
                  "overhead": record["runner"]["overhead_seconds"],
                  "wall": record["wall_seconds"],
                  "validator": process.get("seconds"), "validator_cpu": process.get("cpu_seconds"),
                  "validator_rss": process.get("max_rss_bytes"),
                  "prewarmed": process.get("prewarmed")}))
"""


def export_head(target: Path) -> str:
    """An interpreter that imports HEAD's ``scorer`` (unpacked under ``target`` with
    read-only git use) and this environment's packages: a venv whose only path file names
    both, so the runner's ``python -I`` children get HEAD's code too."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "HEAD", "scorer"], capture_output=True, check=True
    ).stdout
    code = target / "code"
    code.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    venv = target / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(p for p in sys.path if p.endswith("site-packages"))
    (next((venv / "lib").glob("python3*")) / "site-packages" / "head.pth").write_text(
        f"{code}\n{site}\n"
    )
    return str(venv / "bin" / "python")


def measure(
    python: str, track: Path, extra: dict, runs: int, scratch: Path, seconds: float
) -> list[dict]:
    """``runs`` runs of the submission (``seconds`` of sleep, then a copy of the model),
    each by a fresh ``python``."""
    submission = scratch / "copies_model.py"
    submission.write_text(SUBMISSION.replace("SECONDS", repr(seconds)))
    results = []
    for i in range(runs):
        out = scratch / f"out-{time.monotonic_ns()}-{i}"
        args = {"submission": str(submission), "out": str(out), "root": str(track), "extra": extra}
        done = subprocess.run(
            [python, "-c", RUN, json.dumps(args)],
            capture_output=True, text=True, cwd=scratch,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"run failed:\n{done.stderr[-2000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        shutil.rmtree(out, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--track", type=Path, required=True, help="a `lume mini build` dir")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--submission-seconds", type=float, default=0.0,
        help="the submission sleeps this long first (the validator imports meanwhile)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lume-bench-runner-") as tmp:
        scratch = Path(tmp)
        head = export_head(scratch / "head")
        variants = {
            "before (HEAD)": (head, {}),
            "after, bwrap": (sys.executable, {"isolation": "bwrap"}),
            "after, none": (sys.executable, {"isolation": "none"}),
        }
        medians, validators = {}, {}
        print(f"{'variant':<16} {'overhead s':>11} {'whole call s':>13} {'submission s':>13}")
        for name, (root, extra) in variants.items():
            results = measure(
                root, args.track.resolve(), extra, args.runs, scratch, args.submission_seconds
            )
            assert all(r["status"] == "ok" for r in results), results
            numbers = [k for k, v in results[0].items() if isinstance(v, (int, float))]
            numbers = [k for k in numbers if not isinstance(results[0][k], bool)]
            medians[name] = {k: statistics.median(r[k] for r in results) for k in numbers}
            m = medians[name]
            print(f"{name:<16} {m['overhead']:>11.3f} {m['call']:>13.3f} {m['wall']:>13.3f}")
            if "validator" in m:
                warm = sum(bool(r["prewarmed"]) for r in results)
                validators[name] = (
                    f"  its validator process: {m['validator']:.3f} s from the frozen copy to "
                    f"the report (imports done beforehand in {warm}/{len(results)} runs), "
                    f"{m['validator_cpu']:.2f} CPU s in all, peak RSS "
                    f"{m['validator_rss'] / 2**20:.0f} MiB"
                )
        for name, line in validators.items():
            print(f"{name}:\n{line}")
        before = medians["before (HEAD)"]
        for name in ("after, bwrap", "after, none"):
            ratio = medians[name]["overhead"] / before["overhead"]
            call = medians[name]["call"] / before["call"]
            print(f"{name} / before: overhead x{ratio:.2f}, whole call x{call:.2f}")
        print(f"({args.runs} runs each, medians; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
