"""The batched engine's generations against the official per-item loop's, in fp32 and bf16,
with and without the margin repair (``scorer.engine.margins``), in one run.

    python benchmarks/bench_agreement.py --ref /tmp/ref              # agreement and time
    python benchmarks/bench_agreement.py --ref /tmp/ref --calibrate  # logit differences

``--ref`` holds the six checkpoints: ``track/model`` (the mini target), ``ga``, ``gd``,
``kl``, ``npo`` (its baselines, ``lume baseline NAME --preset mini``) scored on
``track/dataset/data``, and ``public_npo`` (NPO of ``lume mini build --source
../shared/lume-public --fold validation`` in ``public``) scored on ``public/dataset/data``;
all on the validation fold. Prints per checkpoint and dtype: identical generations and the
largest component difference against the per-item loop, the items regenerated, and
seconds of each way (items phase only, one process, no cache). ``--calibrate`` prints the
largest logit difference between the engines along identical token paths, in units of
``eps × max|logit|``: ``MEASURED`` in ``scorer/engine/margins.py`` comes from it.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from scorer.data.lume import load_lume
from scorer.engine.batched import BatchedEngine
from scorer.engine.batching import encode, generation_cost, length_batches
from scorer.engine.generation import generate_and_score
from scorer.engine.margins import path_discrepancy, repair_threshold
from scorer.engine.model import auto_batch_tokens, load_model
from scorer.engine.reference import ReferenceEngine, greedy_config
from scorer.evaluation.job import Job
from scorer.evaluation.phases import score_items, score_items_repaired
from scorer.evaluation.settings import EvalSettings
from scorer.official.score import ItemResult, component_means

DTYPES = ("float32", "bfloat16")


def checkpoints(ref: Path) -> dict[str, tuple[Path, Path]]:
    """name -> (model, LUME data) of the six checkpoints that exist under ``ref``."""
    mini, public = ref / "track" / "dataset" / "data", ref / "public" / "dataset" / "data"
    found = {"target": (ref / "track" / "model", mini)}
    found |= {name: (ref / name, mini) for name in ("ga", "gd", "kl", "npo")}
    found["public_npo"] = (ref / "public_npo", public)
    return {k: v for k, v in found.items() if (v[0] / "config.json").is_file() and v[1].is_dir()}


def components(records: list[dict]) -> list[float]:
    means = component_means(
        [ItemResult(r["split"], r["task"], r["kind"], r["score"]) for r in records]
    )
    return [v for split in ("forget", "retain") for v in _flat(means[split])]


def _flat(tree) -> list[float]:
    if isinstance(tree, dict):
        return [v for k in sorted(tree) for v in _flat(tree[k])]
    return [float(tree)]


def timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def agreement(model: Path, data: Path, dtype: str) -> dict:
    """One checkpoint in one dtype: the three ways, their agreement and seconds."""
    lm = load_model(model, "cpu", dtype)
    lume = load_lume(data, "validation")
    items = lume["forget"] + lume["retain"]
    job = Job(EvalSettings(dtype=dtype, bootstrap=0))
    batched = BatchedEngine(lm, auto_batch_tokens(lm))
    plain, t_plain = timed(lambda: score_items(job, batched, items))
    (fixed, repair), t_fixed = timed(
        lambda: score_items_repaired(job, batched, ReferenceEngine(lm), items)
    )
    exact, t_exact = timed(lambda: score_items(job, ReferenceEngine(lm), items))
    gold = components(exact)

    def same(records):
        identical = sum(a["generation"] == b["generation"] for a, b in zip(records, exact))
        gap = max(abs(a - b) for a, b in zip(components(records), gold))
        return identical, gap

    return {
        "items": len(items),
        "plain": (*same(plain), t_plain),
        "repaired": (*same(fixed), t_fixed),
        "regenerated": repair["regenerated"],
        "threshold": repair["threshold"],
        "exact": t_exact,
    }


@torch.inference_mode()
def calibrate(model: Path, data: Path, dtype: str, limit: int | None = None) -> dict:
    """The largest logit difference between the batched decoding loop and ``model.generate``
    on one unpadded prompt, along identical paths, over the validation items."""
    lm = load_model(model, "cpu", dtype)
    lume = load_lume(data, "validation")
    items = lume["forget"] + lume["retain"]
    if limit:  # a seeded sample
        items = [items[i] for i in sorted(random.Random(0).sample(range(len(items)), limit))]
    prompts = encode(lm, [i.input for i in items])
    eps = torch.finfo(next(lm.model.parameters()).dtype).eps
    budget = auto_batch_tokens(lm)
    steps = rows = diverged = 0
    largest = largest_raw = 0.0
    smallest_margin_of_diverged = float("inf")
    for batch in length_batches([len(p) for p in prompts], generation_cost(256), budget):
        seen: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(batch))}

        def keep(live, logits, seen=seen):
            for row, values in zip(live, logits):
                seen[row].append(values.clone())

        margins = generate_and_score(
            lm, [prompts[i] for i in batch], [[] for _ in batch], 256, budget // 4, keep
        )[2]
        for row, i in enumerate(batch):
            ids = torch.tensor([prompts[i]], device=lm.device)
            config = greedy_config(lm, 256)
            config.output_logits, config.return_dict_in_generate = True, True
            out = lm.model.generate(input_ids=ids, generation_config=config)
            steps_of_reference = [step[0] for step in out.logits]  # (1, vocab) per step
            n, big, raw, parted = path_discrepancy(seen[row], steps_of_reference, eps)
            steps, rows, diverged = steps + n, rows + 1, diverged + parted
            largest, largest_raw = max(largest, big), max(largest_raw, raw)
            if parted:
                smallest_margin_of_diverged = min(smallest_margin_of_diverged, margins[row])
    return {
        "rows": rows,
        "steps": steps,
        "diverged": diverged,
        "largest": largest,
        "largest_raw": largest_raw,
        "diverged_margin": smallest_margin_of_diverged,
        "threshold": repair_threshold(next(lm.model.parameters()).dtype),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", type=Path, default=Path("/tmp/ref"))
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--only", nargs="*", help="checkpoint names to run (default: all)")
    parser.add_argument("--dtype", nargs="*", default=list(DTYPES))
    parser.add_argument("--limit", type=int, help="--calibrate: a seeded sample of N items")
    args = parser.parse_args()
    torch.manual_seed(0)
    console = Console()
    found = checkpoints(args.ref)
    names = [n for n in found if not args.only or n in args.only]
    if args.calibrate:
        table = Table(title="batched vs per-item logits on identical paths (eps x max|logit|)")
        for col in ("checkpoint", "dtype", "rows", "steps", "paths differ", "largest",
                    "largest raw", "margin where differ", "threshold"):  # fmt: skip
            table.add_column(col)
        for name in names:
            for dtype in args.dtype:
                c = calibrate(*found[name], dtype, args.limit)
                table.add_row(name, dtype, str(c["rows"]), str(c["steps"]), str(c["diverged"]),
                              f"{c['largest']:.1f}", f"{c['largest_raw']:.2e}",
                              f"{c['diverged_margin']:.1f}", f"{c['threshold']:.1f}")  # fmt: skip
                console.print(name, dtype, c)
        console.print(table)
        return
    table = Table(title="agreement with the per-item loop (--exact), validation fold, CPU")
    for col in ("checkpoint", "dtype", "items", "identical", "max comp. diff", "s",
                "identical +repair", "max comp. diff +repair", "regenerated", "s +repair",
                "s exact", "x faster +repair"):  # fmt: skip
        table.add_column(col)
    pooled: dict[str, list[int]] = {d: [0, 0, 0] for d in args.dtype}
    for name in names:
        for dtype in args.dtype:
            r = agreement(*found[name], dtype)
            (i0, g0, t0), (i1, g1, t1) = r["plain"], r["repaired"]
            pooled[dtype] = [pooled[dtype][0] + r["items"], pooled[dtype][1] + i0,
                             pooled[dtype][2] + i1]  # fmt: skip
            table.add_row(name, dtype, str(r["items"]), f"{i0}", f"{g0:.4f}", f"{t0:.1f}",
                          f"{i1}", f"{g1:.4f}", str(r["regenerated"]), f"{t1:.1f}",
                          f"{r['exact']:.1f}", f"{r['exact'] / t1:.1f}")  # fmt: skip
            console.print(name, dtype, r)
    console.print(table)
    for dtype, (n, i0, i1) in pooled.items():
        console.print(
            f"{dtype}: pooled {i0}/{n} identical ({i0 / max(n, 1):.2%}) without the repair, "
            f"{i1}/{n} ({i1 / max(n, 1):.2%}) with it"
        )


if __name__ == "__main__":
    main()
