"""The kit's scoring engine against the official-style per-item loop, in one run.

    python benchmarks/bench_scorer.py --track DIR      # a `lume mini build` directory
    python benchmarks/bench_scorer.py --track DIR --device cuda --dtype bfloat16

Same model, same data, one process. The reference is the official script's way: per
item one ``model.generate`` (256 new tokens at most), its ROUGE-L / exact-match score and
a second forward pass for the answer NLL; one forward pass per MIA document; one per
MMLU prompt. The kit does the same work with its batched engine, result cache off. Prints seconds
(each phase the fastest of ``--repeats`` runs, default 3), ratios and agreement per phase, MMLU
with and without prefix reuse, a roofline (``roofline.py``) and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from random_model import parse_shape, random_target
from rich.console import Console
from rich.table import Table
from roofline import documents_flops, items_flops, mmlu_flops, model_shape, peak_flops_per_second

from scorer.engine import reference as per_item
from scorer.engine.batched import BatchedEngine
from scorer.engine.batching import encode
from scorer.engine.forward_passes import choose_next_token
from scorer.engine.model import auto_batch_tokens, load_model
from scorer.engine.token_stats import STATS_CHUNK
from scorer.evaluation.evaluate import load_inputs
from scorer.evaluation.job import Job
from scorer.evaluation.phases import score_items, score_mia, score_mmlu
from scorer.evaluation.settings import EvalSettings
from scorer.official.metrics import item_score, roc_auc
from scorer.official.mmlu_prompt import accuracy, answer_token_ids, fitted_prompt
from scorer.procfs import peak_rss_bytes, reset_peak_rss


def timed(work, repeats: int):
    """(result, fastest of ``repeats`` runs in seconds, peak RSS in bytes during them).

    The fastest run, because on a shared machine a run can only be slowed down by others.
    """
    best, peak, result = float("inf"), 0, None
    for _ in range(max(1, repeats)):
        reset_peak_rss()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = work()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
        peak = max(peak, peak_rss_bytes())
    return result, best, peak


def official_mmlu_prompts(lm, mmlu, shots: int) -> tuple[list[str], list[int]]:
    count = lambda text: len(lm.tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    prompts, answers = [], []
    for subject, questions in mmlu["test"].items():
        for q in questions:
            prompt, _ = fitted_prompt(subject, mmlu["dev"].get(subject, []), q, shots, count,
                                      min(2048, lm.max_positions))  # fmt: skip
            prompts.append(prompt)
            answers.append(q.answer)
    return prompts, answers


def activation_estimates(lm, batch_tokens: int) -> dict[str, int]:
    """Bytes one batch of each phase needs beyond the weights, by the engine's budgets.

    Generation: the key/value cache of ``batch_tokens`` tokens plus one layer's widest
    activations; MIA (``batch_tokens / 4`` tokens): the logits plus a few fp32
    ``STATS_CHUNK × vocab`` temporaries; MMLU (``batch_tokens / 4``): the replicated
    prefix cache and the kept logits.
    """
    config = lm.model.config
    elem = next(lm.model.parameters()).element_size()
    kv = 2 * config.num_hidden_layers * config.hidden_size * elem
    layer = (3 * config.hidden_size + 2 * config.intermediate_size) * elem
    quarter = batch_tokens // 4
    return {
        "items": batch_tokens * (kv + layer),
        "MIA": quarter * (config.vocab_size * elem + layer)
        + 4 * STATS_CHUNK * config.vocab_size * 4,
        "MMLU": quarter * (kv + layer) + quarter * config.vocab_size * 4,
    }


def roofline_table(lm, inputs, kit_items, docs, mc_prompts, rows) -> Table:
    """The FLOPs each phase needs, the rate each side reached, and the best speed-up any
    engine computing the same numbers could reach on this machine (``roofline.py``)."""
    tokens = lambda texts: [len(r) for r in encode(lm, texts)]  # noqa: E731
    shape = model_shape(lm.model)
    prompts = tokens([i.input for i in inputs.items])
    whole = tokens([i.input + i.output for i in inputs.items])
    generated = [
        len(lm.tokenizer(r["generation"], add_special_tokens=False)["input_ids"]) for r in kit_items
    ]
    by_subject: dict[str, list[list[int]]] = {subject: [] for subject in inputs.mmlu["test"]}
    encoded_mc = encode(lm, mc_prompts)
    subjects = [s for s, qs in inputs.mmlu["test"].items() for _ in qs]
    for subject, ids in zip(subjects, encoded_mc):
        by_subject[subject].append(ids)
    groups = []
    for prompts_ids in by_subject.values():
        shared = len(os.path.commonprefix(prompts_ids)) if len(prompts_ids) > 1 else 0
        groups.append((shared, [len(ids) - shared for ids in prompts_ids]))
    needed = {
        "items": items_flops(
            shape, prompts, [max(w - p, 0) for w, p in zip(whole, prompts)], generated
        ),  # fmt: skip
        "MIA": documents_flops(shape, tokens(docs)),
        "MMLU": mmlu_flops(shape, groups),
    }
    peak = peak_flops_per_second(lm.model)
    table = Table(
        title=f"Roofline: this machine's best matrix-product rate for the model is "
        f"{peak / 1e9:.0f} GFLOP/s"
    )
    for name in ("phase", "GFLOP needed", "per-item GFLOP/s", "kit GFLOP/s",
                 "kit % of peak", "best possible speed-up"):  # fmt: skip
        table.add_column(name, justify="left" if name == "phase" else "right")
    for (_, _, t_ref, t_kit, _), (phase, flops) in zip(rows, needed.items()):
        table.add_row(phase, f"{flops / 1e9:.2f}", f"{flops / t_ref / 1e9:.0f}",
                      f"{flops / t_kit / 1e9:.0f}", f"{100 * flops / t_kit / peak:.0f}%",
                      f"{t_ref / (flops / peak):.1f}×")  # fmt: skip
    total = sum(needed.values())
    t_ref, t_kit = sum(r[2] for r in rows), sum(r[3] for r in rows)
    table.add_row("total", f"{total / 1e9:.2f}", f"{total / t_ref / 1e9:.0f}",
                  f"{total / t_kit / 1e9:.0f}", f"{100 * total / t_kit / peak:.0f}%",
                  f"{t_ref / (total / peak):.1f}×")  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", type=Path, required=True, help="a lume mini build directory")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-tokens", type=int, default=None, help="default: auto")
    parser.add_argument("--fold", default="validation")
    parser.add_argument(
        "--random-shape",
        help="score a random OLMo of this shape instead of the track's target, e.g. "
        "2048x16x16x8192x50304 (OLMo-1B); timing only",
    )
    parser.add_argument("--skip-reference", action="store_true", help="time the kit only")
    parser.add_argument(
        "--repeats", type=int, default=3, help="time each phase this many times, keep the fastest"
    )
    args = parser.parse_args()

    build = json.loads((args.track / "build.json").read_text())
    paths = {k: args.track / build[k] for k in ("model_dir", "data_dir", "mia_dir", "mmlu_dir")}
    if args.random_shape:
        scratch = tempfile.TemporaryDirectory(prefix="lume-bench-")
        paths["model_dir"] = Path(scratch.name) / "random"
        random_target(args.track, paths["model_dir"], **parse_shape(args.random_shape))
    inputs = load_inputs(paths["data_dir"], paths["mia_dir"], paths["mmlu_dir"], args.fold)
    baseline_rss = peak_rss_bytes()
    lm = load_model(paths["model_dir"], args.device, args.dtype)
    weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    settings = EvalSettings(
        max_new_tokens=args.max_new_tokens, batch_tokens=args.batch_tokens, bootstrap=0
    )
    job = Job(settings)  # no cache, one process
    engine = BatchedEngine(lm, args.batch_tokens or auto_batch_tokens(lm))
    items = inputs.items
    prompts = [i.input for i in items]
    docs = [d.document for d in inputs.mia["member"] + inputs.mia["nonmember"]]
    mc_prompts, answers = official_mmlu_prompts(lm, inputs.mmlu, settings.shots)
    candidates = answer_token_ids(lambda s: lm.tokenizer.encode(s, add_special_tokens=False))

    # warm-up: every phase once on a few inputs, both ways (first calls pay for lazy
    # initialisation), so that neither side is charged for it
    warm = dict(inputs.mia, member=inputs.mia["member"][:2], nonmember=inputs.mia["nonmember"][:2])
    first = next(iter(inputs.mmlu["test"]))
    warm_mmlu = dict(inputs.mmlu, test={first: inputs.mmlu["test"][first][:2]})
    score_items(job, engine, items[:4])
    score_mia(job, engine, warm)
    score_mmlu(job, engine, warm_mmlu)
    per_item.generate_one(lm, prompts[0], 4)
    per_item.answer_nll_one(lm, items[0].input, items[0].output)
    per_item.mean_nll_one(lm, docs[0])
    per_item.choice_one(lm, mc_prompts[0], candidates)

    rows = []
    skip = args.skip_reference

    def measure(work):
        return timed(work, args.repeats)

    def reference(work, fallback):
        return (fallback, float("nan"), 0) if skip else measure(work)

    def official_item(item) -> dict:
        """What the official loop did per item: generate, score, then the answer NLL."""
        generation = per_item.generate_one(lm, item.input, settings.max_new_tokens)
        return {
            "generation": generation,
            "score": item_score(item.kind, item.output, generation),
            "nll": per_item.answer_nll_one(lm, item.input, item.output),
        }

    ref_items, t_ref, m_ref = reference(
        lambda: [official_item(item) for item in items], [{"generation": None}] * len(items)
    )
    kit_items, t_kit, m_kit = measure(lambda: score_items(job, engine, items))
    same = sum(a["generation"] == r["generation"] for a, r in zip(ref_items, kit_items))
    rows.append(
        ("items (generation, score, answer NLL)", len(items), t_ref, t_kit,
         f"{same}/{len(items)} identical")
    )  # fmt: skip

    ref_nll, t_ref_mia, _ = reference(
        lambda: [per_item.mean_nll_one(lm, d) for d in docs], [0.0] * len(docs)
    )
    (kit_mia, _), t_kit_mia, m_mia = measure(lambda: score_mia(job, engine, inputs.mia))
    n = len(inputs.mia["member"])
    ref_auc = roc_auc([-x for x in ref_nll[:n]], [-x for x in ref_nll[n:]])
    rows.append(
        ("MIA", len(docs), t_ref_mia, t_kit_mia, f"AUC {ref_auc:.4f} vs {kit_mia['auc']:.4f}")
    )

    ref_choice, t_ref_mc, _ = reference(
        lambda: [per_item.choice_one(lm, p, candidates) for p in mc_prompts], answers
    )
    no_reuse, t_batched_mc, _ = measure(
        lambda: choose_next_token(lm, mc_prompts, candidates, engine.budget(4))
    )
    kit_mmlu, t_kit_mc, m_mc = measure(lambda: score_mmlu(job, engine, inputs.mmlu))
    kit_acc, ref_acc = kit_mmlu["accuracy"], accuracy(ref_choice, answers)
    rows.append(
        ("MMLU", len(mc_prompts), t_ref_mc, t_kit_mc, f"accuracy {ref_acc:.4f} vs {kit_acc:.4f}")
    )

    table = Table(title=f"Scoring {paths['model_dir']} ({args.fold} fold)")
    for name in ("phase", "inputs", "per-item loop (s)", "kit (s)", "speed-up", "agreement"):
        table.add_column(name, justify="left" if name in ("phase", "agreement") else "right")
    for name, count, ref, kit, agreement in rows:
        table.add_row(name, str(count), f"{ref:.2f}", f"{kit:.2f}", f"{ref / kit:.1f}×", agreement)
    total_ref = sum(r[2] for r in rows)
    total_kit = sum(r[3] for r in rows)
    table.add_row(
        "total", "", f"{total_ref:.2f}", f"{total_kit:.2f}", f"{total_ref / total_kit:.1f}×", ""
    )
    console = Console()
    console.print(table)
    console.print(roofline_table(lm, inputs, kit_items, docs, mc_prompts, rows))

    reuse = Table(title="MMLU: k-shot prefix key/value reuse")
    for name in ("batched, whole prompts (s)", "batched, prefix reused (s)", "speed-up", "same"):
        reuse.add_column(name, justify="right")
    same_mc = sum(a == b for a, b in zip(no_reuse, ref_choice))
    reuse.add_row(f"{t_batched_mc:.2f}", f"{t_kit_mc:.2f}", f"{t_batched_mc / t_kit_mc:.1f}×",
                  f"{same_mc}/{len(mc_prompts)}")  # fmt: skip
    console.print(reuse)

    memory = Table(title="Peak RSS above the process before the model was loaded (MB)")
    for name in ("phase", "measured", "weights + batch (estimate)", "ratio"):
        memory.add_column(name, justify="left" if name == "phase" else "right")
    estimates = activation_estimates(lm, engine.budget())
    for phase, peak in (("items", m_kit), ("MIA", m_mia), ("MMLU", m_mc)):
        used, bound = (peak - baseline_rss) / 2**20, (weights + estimates[phase]) / 2**20
        memory.add_row(phase, f"{used:.0f}", f"{bound:.0f}", f"{used / bound:.2f}")
    if not skip:
        memory.add_row("per-item loop", f"{(m_ref - baseline_rss) / 2**20:.0f}", "", "")
    console.print(memory)
    device = lm.device.type
    if device == "cuda":
        device += f" ({torch.cuda.get_device_name(lm.device)})"
    console.print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"threads, device {device}, dtype {next(lm.model.parameters()).dtype}, torch "
        f"{torch.__version__}"
    )


if __name__ == "__main__":
    main()
