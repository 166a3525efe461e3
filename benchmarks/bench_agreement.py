"""The batched engine's generations against the official per-item loop's, in fp32 and bf16,
with and without the margin repair (``scorer.engine.margins``), in one run.

    python benchmarks/bench_agreement.py --ref /tmp/ref              # agreement and time
    python benchmarks/bench_agreement.py --ref /tmp/ref --calibrate  # logit differences
    python benchmarks/bench_agreement.py --ref /tmp/ref --process --only npo  # 10x target

``--ref`` holds the six checkpoints: ``track/model`` (the mini target), ``ga``, ``gd``,
``kl``, ``npo`` (its baselines, ``lume baseline NAME --preset mini``) scored on
``track/dataset/data``, and ``public_npo`` (NPO of ``lume mini build --source
../shared/lume-public --fold validation`` in ``public``) scored on ``public/dataset/data``;
all on the validation fold. Prints per checkpoint and dtype: identical generations and the
largest component difference against the per-item loop for each generation layout
(``padded``, ``equal prompt length``, ``by row``: ``scorer.engine.row_attention``), the
layout evaluate picks with the repair, the items regenerated, and seconds of each way
(items phase only, one process, no cache), how many answer NLLs and MIA document NLLs
(and seconds) are the per-item loop's bit for bit; then the pooled agreement, and with ``npo``
selected the whole ``lume-score evaluate`` process in bf16 against ``--exact``'s.
``--calibrate`` prints the largest lead drop between the engines along identical token
paths, in units of ``eps × max|logit|``, and how many steps were equal bit for bit:
``MEASURED`` in ``scorer/engine/margins.py`` comes from it.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.engine.batched import BatchedEngine, answer_split
from scorer.engine.batching import (
    encode,
    equal_length_batches,
    generation_cost,
    length_batches,
)
from scorer.engine.generation import generate_and_score
from scorer.engine.margins import path_discrepancy, repair_threshold
from scorer.engine.model import auto_batch_tokens, load_model
from scorer.engine.reference import ReferenceEngine, greedy_config
from scorer.engine.row_attention import generation_layout
from scorer.evaluation.job import Job
from scorer.evaluation.phases import document_scores, score_items, score_items_repaired
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


LAYOUTS = ("padded", "equal prompt length", "by row")


def agreement(model: Path, data: Path, dtype: str) -> dict:
    """One checkpoint in one dtype: the batched engine in each generation layout
    (``scorer.engine.row_attention``), the layout ``lume-score evaluate`` picks with the
    repair, and the per-item loop; their agreement and seconds."""
    lm = load_model(model, "cpu", dtype)
    lume = load_lume(data, "validation")
    items = lume["forget"] + lume["retain"]
    job = Job(EvalSettings(dtype=dtype, bootstrap=0))
    budget = auto_batch_tokens(lm)
    chosen = generation_layout(lm)

    def run(layout):
        return timed(lambda: score_items(job, BatchedEngine(lm, budget, layout), items))

    runs = {layout: run(layout) for layout in LAYOUTS}
    (fixed, repair), t_fixed = timed(
        lambda: score_items_repaired(
            job, BatchedEngine(lm, budget, chosen), ReferenceEngine(lm), items
        )
    )
    exact, t_exact = timed(lambda: score_items(job, ReferenceEngine(lm), items))
    gold = components(exact)
    texts = [d.document for docs in load_mia(data.parent).values() for d in docs]
    documents = {
        engine.name: timed(lambda engine=engine: document_scores(job, engine, texts))
        for engine in (BatchedEngine(lm, budget, chosen), ReferenceEngine(lm))
    }
    (mia_fast, t_mia), (mia_exact, t_mia_exact) = documents["batched"], documents["reference"]

    def same(records):
        identical = sum(a["generation"] == b["generation"] for a, b in zip(records, exact))
        gap = max(abs(a - b) for a, b in zip(components(records), gold))
        return identical, gap

    return {
        "items": len(items),
        "layout": chosen,
        "layouts": {layout: (*same(records), t) for layout, (records, t) in runs.items()},
        "repaired": (*same(fixed), t_fixed),
        "repair": repair,
        "exact": t_exact,
        # bit-equal NLLs: the answers' (items) and the MIA documents' (evaluate's layout)
        "answer_nlls": sum(a["nll"] == b["nll"] for a, b in zip(fixed, exact)),
        "mia": (
            sum(a["nll"] == b["nll"] for a, b in zip(mia_fast, mia_exact)),
            len(texts),
            t_mia,
            t_mia_exact,
        ),
    }


@torch.inference_mode()
def calibrate(model: Path, data: Path, dtype: str, limit: int | None = None) -> dict:
    """The largest lead drop (:func:`scorer.engine.margins.lead_drop`) between the batched
    decoding loop, batched as the engine batches in that dtype, and ``model.generate`` on
    one unpadded prompt, along identical paths, over the validation items; also how many
    steps were equal bit for bit and the smallest margin of a row whose path parted."""
    lm = load_model(model, "cpu", dtype)
    lume = load_lume(data, "validation")
    items = lume["forget"] + lume["retain"]
    if limit:  # a seeded sample
        items = [items[i] for i in sorted(random.Random(0).sample(range(len(items)), limit))]
    prompts = encode(lm, [i.input for i in items])
    rows = encode(lm, [i.input + i.output for i in items])
    answers = [answer_split(p, r, min(len(p), len(r))) for p, r in zip(prompts, rows)]
    model_dtype = next(lm.model.parameters()).dtype
    layout = generation_layout(lm)
    eps = torch.finfo(model_dtype).eps
    budget = auto_batch_tokens(lm)
    group = equal_length_batches if layout == "equal prompt length" else length_batches
    steps = bit_equal = n_rows = diverged = 0
    largest = largest_raw = 0.0
    smallest_margin_of_diverged = float("inf")
    all_margins: list[float] = []
    for batch in group([len(p) for p in prompts], generation_cost(256), budget):
        seen: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(batch))}

        def keep(live, logits, seen=seen):
            for row, values in zip(live, logits):
                seen[row].append(values.clone())

        # as the engine runs them
        after = [answers[i] or [] if layout == "padded" else [] for i in batch]
        margins = generate_and_score(
            lm, [prompts[i] for i in batch], after, 256, budget // 4, keep, layout == "by row"
        )[2]
        all_margins += margins
        for row, i in enumerate(batch):
            ids = torch.tensor([prompts[i]], device=lm.device)
            config = greedy_config(lm, 256)
            config.output_logits, config.return_dict_in_generate = True, True
            out = lm.model.generate(input_ids=ids, generation_config=config)
            steps_of_reference = [step[0] for step in out.logits]  # (1, vocab) per step
            bit_equal += sum(
                torch.equal(b, r.float()) for b, r in zip(seen[row], steps_of_reference)
            )
            n, big, raw, parted = path_discrepancy(seen[row], steps_of_reference, eps)
            steps, n_rows, diverged = steps + n, n_rows + 1, diverged + parted
            largest, largest_raw = max(largest, big), max(largest_raw, raw)
            if parted:
                smallest_margin_of_diverged = min(smallest_margin_of_diverged, margins[row])
    return {
        "batches": layout,
        "rows": n_rows,
        "steps": steps,
        "bit_equal_steps": bit_equal,
        "diverged": diverged,
        "largest": largest,
        "largest_raw": largest_raw,
        "diverged_margin": smallest_margin_of_diverged,
        "threshold": repair_threshold(model_dtype, "cpu"),
        "rows_under": {x: sum(m < x for m in all_margins) for x in (1e-3, 1, 4, 16, 64)},
    }


def whole_process(ref: Path, out: Path) -> dict:
    """Seconds of the whole ``lume-score evaluate`` process (start-up, loading, items, MIA,
    MMLU) on the NPO checkpoint in bf16, batched and ``--exact``, and their agreement: the
    generations, and the headline numbers (the batched MIA and MMLU passes are padded)."""
    seconds, generations = {}, {}
    for way, extra in (("batched", []), ("exact", ["--exact"])):
        command = [sys.executable, "-m", "scorer.cli", "evaluate", str(ref / "npo"), "--track",
                   "mini", "--root", str(ref / "track"), "--split", "validation", "--dtype",
                   "bfloat16", "--out", str(out / way), "--no-cache", "--json", *extra]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds[way] = time.perf_counter() - start
        lines = (out / way / "items.jsonl").read_text().splitlines()
        generations[way] = [json.loads(line)["generation"] for line in lines]
    same = sum(a == b for a, b in zip(generations["batched"], generations["exact"]))
    scores = {way: json.loads((out / way / "scores.json").read_text()) for way in seconds}
    gaps = {key: abs(scores["batched"][key] - scores["exact"][key])
            for key in ("final_score", "task_aggregate", "mia_auc", "mmlu")}  # fmt: skip
    return {**seconds, "ratio": seconds["exact"] / seconds["batched"], "identical": same,
            "items": len(generations["exact"]), "gaps": gaps, "start_up": start_up(),
            "regenerated": scores["batched"]["repair"]["regenerated"]}  # fmt: skip


def start_up(runs: int = 3) -> float:
    """Seconds a process spends importing what ``lume-score evaluate`` imports (torch,
    transformers' model loading, the kit) before any model work: both processes pay it,
    so it bounds their ratio (the fastest of ``runs``)."""
    command = [sys.executable, "-c", "import scorer.cli.app, scorer.evaluation.evaluate"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", type=Path, default=Path("/tmp/ref"))
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--process", action="store_true", help="only the whole-process ratio")
    parser.add_argument("--only", nargs="*", help="checkpoint names to run (default: all)")
    parser.add_argument("--dtype", nargs="*", default=list(DTYPES))
    parser.add_argument("--limit", type=int, help="--calibrate: a seeded sample of N items")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # rows show as they finish
    torch.manual_seed(0)
    console = Console(width=220)  # the tables stay readable in a log file
    found = checkpoints(args.ref)
    names = [n for n in found if not args.only or n in args.only]
    if args.calibrate:
        table = Table(title="batched vs per-item logits on identical paths (eps x max|logit|)")
        for col in ("checkpoint", "dtype", "batches", "rows", "steps", "bit-equal steps",
                    "paths differ", "largest lead drop", "largest raw", "margin where differ",
                    "threshold"):  # fmt: skip
            table.add_column(col)
        for name in names:
            for dtype in args.dtype:
                c = calibrate(*found[name], dtype, args.limit)
                table.add_row(name, dtype, c["batches"], str(c["rows"]), str(c["steps"]),
                              str(c["bit_equal_steps"]), str(c["diverged"]),
                              f"{c['largest']:.2f}", f"{c['largest_raw']:.2e}",
                              f"{c['diverged_margin']:.2f}", f"{c['threshold']:.1f}")  # fmt: skip
                console.print(name, dtype, c)
        console.print(table)
        return
    if not args.process:
        per_checkpoint(console, found, names, args.dtype)
    if "npo" in names:  # the whole-process target
        with tempfile.TemporaryDirectory() as out:
            w = whole_process(args.ref, Path(out))
        console.print(
            f"whole lume-score evaluate process, NPO, bf16: batched {w['batched']:.1f} s "
            f"({w['regenerated']} regenerated), --exact {w['exact']:.1f} s: "
            f"{w['ratio']:.1f}x faster; {w['identical']}/{w['items']} generations identical; "
            "differences: " + ", ".join(f"{k} {v:.4f}" for k, v in w["gaps"].items())
        )
        ceiling = w["exact"] / w["start_up"]
        console.print(
            f"start-up (imports, before any model work) {w['start_up']:.1f} s in each process: "
            f"with an items phase of no time the ratio would be at most {ceiling:.1f}x"
        )


def per_checkpoint(console: Console, found: dict, names: list[str], dtypes: list[str]) -> None:
    """The agreement table, one row per checkpoint and dtype, and the pooled agreement."""
    table = Table(title="agreement with the per-item loop (--exact), validation fold, CPU")
    for col in ("checkpoint", "dtype", "items", *(f"{x}: identical, max diff, s" for x in
                LAYOUTS), "evaluate's layout", "+repair: identical, max diff", "regenerated",
                "s +repair", "s exact", "x faster +repair", "answer NLLs =",
                "MIA NLLs =, s, s exact"):  # fmt: skip
        table.add_column(col)
    pooled: dict[str, list] = {d: [0, 0, 0, 0.0, 0.0] for d in dtypes}
    for name in names:
        for dtype in dtypes:
            r = agreement(*found[name], dtype)
            i0, g0, _ = r["layouts"][r["layout"]]
            i1, g1, t1 = r["repaired"]
            p = pooled[dtype]
            pooled[dtype] = [p[0] + r["items"], p[1] + i0, p[2] + i1, max(p[3], g0),
                             max(p[4], g1)]  # fmt: skip
            table.add_row(name, dtype, str(r["items"]),
                          *(f"{i} {g:.4f} {t:.1f}" for i, g, t in r["layouts"].values()),
                          r["layout"], f"{i1} {g1:.4f}", str(r["repair"]["regenerated"]),
                          f"{t1:.1f}", f"{r['exact']:.1f}", f"{r['exact'] / t1:.1f}",
                          f"{r['answer_nlls']}/{r['items']}",
                          "{}/{} {:.2f} {:.2f}".format(*r["mia"]))  # fmt: skip
            console.print(name, dtype, r)
    console.print(table)
    for dtype, (n, i0, i1, g0, g1) in pooled.items():
        console.print(
            f"{dtype}: pooled {i0}/{n} identical ({i0 / max(n, 1):.2%}, largest component "
            f"difference {g0:.4f}) in evaluate's layout without the repair, {i1}/{n} "
            f"({i1 / max(n, 1):.2%}, {g1:.4f}) with it"
        )


if __name__ == "__main__":
    main()
