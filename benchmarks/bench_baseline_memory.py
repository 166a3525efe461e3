"""Peak memory of each baseline on the same run: NPO must not hold a reference model.

    python benchmarks/bench_baseline_memory.py --track DIR [--hidden 512 --layers 8]

NPO's reference log-probabilities of the forget set are constant, so the loop computes
them once before training and keeps no second model; KL needs the reference model's
full distributions on retain batches, so it keeps one. This builds a random OLMo of the
given shape with the mini track's tokenizer (big enough for the weights to dominate the
process's memory), runs GA, GD, NPO and KL on the mini track's train fold, each in a fresh
process, and prints the peak resident memory of each above the process's memory after
its imports, with the ratio to GA's. The issue's bar: NPO ≤ 1.15 × GA. Any method of
``baselines.methods.METHODS`` can be measured (``--methods``); ``NAME-without-retain``
runs a method whose retain term is optional (NPO, SimNPO) without it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from random_model import random_target
from rich.console import Console
from rich.table import Table

from baselines.methods import METHODS

WITHOUT_RETAIN = "-without-retain"

CHILD = r"""
import json, sys
from pathlib import Path

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024

import torch, transformers, accelerate  # noqa: F401  (imports count as the base)
from starter_kit.baseline import run_baseline

base = status("VmRSS:")
report = run_baseline(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]),
                      preset="mini")
print(json.dumps({"base": base, "peak": status("VmHWM:"), "steps": report.steps,
                  "seconds": report.seconds}))
"""


def _runs(spec: str) -> list[tuple[str, str, dict[str, str]]]:
    """(label, method, extra environment) of each entry of ``--methods``."""
    runs = []
    for label in spec.split(","):
        name = label.removesuffix(WITHOUT_RETAIN)
        method = METHODS.get(name)
        if method is None or (label != name and not method.retain_optional):
            optional = [f"{m.name}{WITHOUT_RETAIN}" for m in METHODS.values() if m.retain_optional]
            sys.exit(f"--methods {label!r}: expected one of {', '.join([*METHODS, *optional])}")
        runs.append((label, name, {"LUME_BASELINE_RETAIN_TERM": "0"} if label != name else {}))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", type=Path, required=True, help="a lume mini build directory")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument(
        "--methods",
        default="ga,gd,npo,npo-without-retain,kl",
        help=f"baselines to run, of {', '.join(METHODS)}; npo{WITHOUT_RETAIN} is npo with "
        "LUME_BASELINE_RETAIN_TERM=0",
    )
    args = parser.parse_args()
    runs = _runs(args.methods)

    build = json.loads((args.track / "build.json").read_text())
    data = args.track / build["data_dir"]
    env = {**os.environ, "LUME_BASELINE_EPOCHS": str(args.epochs), "HF_HUB_OFFLINE": "1"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="lume-bench-") as tmp:
        model = Path(tmp) / "target"
        parameters = random_target(args.track, model, args.hidden, args.layers, args.heads)
        for method, name, extra in runs:
            out = Path(tmp) / method
            done = subprocess.run(
                [sys.executable, "-c", CHILD, name, str(model), str(data), str(out)],
                capture_output=True,
                text=True,
                env={**env, **extra},
                check=False,
            )
            if done.returncode != 0:
                sys.exit(f"{method} failed:\n{done.stderr[-2000:]}")
            rows.append((method, json.loads(done.stdout.strip().splitlines()[-1])))

    table = Table(title=f"Baselines' peak memory ({parameters / 1e6:.1f} M parameters, fp32)")
    for name in ("method", "steps", "seconds", "peak above imports (MB)", "× GA"):
        table.add_column(name, justify="left" if name == "method" else "right")
    used = {m: r["peak"] - r["base"] for m, r in rows}
    ga = used.get("ga")
    for method, r in rows:
        ratio = f"{used[method] / ga:.2f}" if ga else "n/a"
        table.add_row(
            method.upper(), str(r["steps"]), f"{r['seconds']:.1f}", f"{used[method] / 2**20:.0f}",
            ratio,
        )  # fmt: skip
    Console().print(table)
    Console().print(
        "NPO runs with its retain term (NPO+RT, the default of baselines/npo.py) and without "
        "it; each loss term is back-propagated on its own, so a retain batch adds little."
    )
    weights = parameters * 4 / 2**20
    Console().print(
        f"weights {weights:.0f} MB; AdamW keeps two more copies and gradients one: "
        f"≈ {4 * weights:.0f} MB of training state before activations"
    )


if __name__ == "__main__":
    main()
