"""The report's figures, drawn by matplotlib (Agg, no pyplot) and returned as PNG bytes.

Each function takes loaded results and returns one PNG; nothing here reads files or
knows HTML. Figures are built on ``matplotlib.figure.Figure`` directly, so no GUI backend
and no global pyplot state is ever touched, and math text is off: a directory or subject
name holding ``$`` is drawn as written.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from scorer.beyond.attacks import ATTACKS
from scorer.contract import SPLITS, TASKS
from scorer.report.loading import (
    METRICS,
    Checkpoint,
    Result,
    subject_accuracy,
    subject_counts,
)

HEADLINE = (
    ("final_score", "final score"),
    ("task_aggregate", "task aggregate"),
    ("mia_score", "MIA score"),
    ("mmlu", "MMLU"),
)
STYLE = {"text.parse_math": False, "text.usetex": False, "font.size": 9}
DPI = 100
ROC_COLOURS = ("black", "C2", "C4", "C1", "C5", "C8")  # the official loss attack in black


def colour(k: int) -> str:
    """The k-th result's colour, the same in every figure (the submission is always C0)."""
    return f"C{k % 10}"


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes (no timestamp in the metadata: same input, same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _interval(result: Result, split: str, task: str, metric: str) -> tuple[float, float] | None:
    boot = (result.scores.get("beyond_official") or {}).get("bootstrap") or {}
    value = ((boot.get(split) or {}).get(task) or {}).get(metric)
    return tuple(value) if isinstance(value, list) and len(value) == 2 else None


def components_figure(results: Sequence[Result]) -> bytes:
    """Per task, forget against retain regurgitation and knowledge, one bar per result, with
    the bootstrap 95% interval where the result has one."""
    groups = [(split, metric) for split in SPLITS for metric in METRICS]
    width = 0.8 / len(results)
    with rc_context(STYLE):
        figure = Figure(figsize=(11, 3.6), layout="constrained")
        axes = figure.subplots(1, len(TASKS), sharey=True)
        for ax, task in zip(axes, TASKS):
            for k, result in enumerate(results):
                x = np.arange(len(groups)) + (k - (len(results) - 1) / 2) * width
                values = [result.scores[s][task][m] for s, m in groups]
                spans = [_interval(result, s, task, m) for s, m in groups]
                low = [max(0.0, v - i[0]) if i else 0.0 for v, i in zip(values, spans)]
                high = [max(0.0, i[1] - v) if i else 0.0 for v, i in zip(values, spans)]
                ax.bar(
                    x,
                    values,
                    width,
                    color=colour(k),
                    label=result.name,
                    yerr=[low, high],
                    capsize=2,
                    error_kw={"elinewidth": 0.8},
                )
            ax.set_title(task)
            ax.set_xticks(range(len(groups)), [f"{s}\n{m}" for s, m in groups])
            ax.axvline(1.5, color="0.6", linewidth=0.8)
            ax.set_ylim(0, 1.05)
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_ylabel("mean item score (forget: lower is better)")
        figure.legend(
            *axes[0].get_legend_handles_labels(),
            loc="outside upper center",
            ncols=min(len(results), 4),
            frameon=False,
        )
        return png(figure)


def roc_points(positive: Sequence[float], negative: Sequence[float]):
    """The ROC curve of scores (higher = positive): false and true positive rates at every
    distinct threshold, from (0, 0) to (1, 1); ties move both rates at once, so the
    trapezoid area under it is the Mann-Whitney AUC (``scorer.official.metrics.roc_auc``)."""
    scores = np.concatenate([np.asarray(positive, float), np.asarray(negative, float)])
    labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(scores))[0], scores.size - 1]  # each threshold's last row
    tpr = np.r_[0.0, np.cumsum(labels)[last] / max(len(positive), 1)]
    fpr = np.r_[0.0, np.cumsum(1 - labels)[last] / max(len(negative), 1)]
    return fpr, tpr


def mia_figure(result: Result) -> bytes:
    """Member and nonmember NLL histograms, and each attack's ROC curve with its AUC."""
    rows = result.mia or []
    members = [r for r in rows if r["member"]]
    nonmembers = [r for r in rows if not r["member"]]
    aucs = (result.scores.get("beyond_official") or {}).get("mia_attacks") or {}
    with rc_context(STYLE):
        figure = Figure(figsize=(11, 3.8), layout="constrained")
        hist, roc = figure.subplots(1, 2)
        nll = [r["nll"] for r in rows]
        bins = np.histogram_bin_edges(nll, bins=min(30, max(5, len(nll) // 4)))
        for group, label, k in ((members, "members (forget)", 3), (nonmembers, "nonmembers", 0)):
            hist.hist(
                [r["nll"] for r in group],
                bins=bins,
                alpha=0.55,
                color=colour(k),
                label=f"{label}, n={len(group)}",
            )
        hist.set_xlabel("mean token NLL of the document")
        hist.set_ylabel("documents")
        hist.set_title(f"{result.name}: NLL of members and nonmembers")
        hist.legend(frameon=False)
        roc.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.8, label="chance")
        for k, (key, attack) in enumerate(ATTACKS.items()):
            if not all(key in r for r in rows):
                continue
            fpr, tpr = roc_points([r[key] for r in members], [r[key] for r in nonmembers])
            auc = aucs.get(key, result.scores.get("mia_auc") if attack.official else None)
            shown = "" if auc is None else f", AUC {auc:.3f}"
            official = " (official)" if attack.official else ""
            roc.plot(
                fpr,
                tpr,
                color=ROC_COLOURS[k % len(ROC_COLOURS)],
                label=f"{attack.label}{official}{shown}",
            )
        roc.set_xlabel("false positive rate (nonmembers flagged)")
        roc.set_ylabel("true positive rate (members found)")
        roc.set_title("ROC of each membership attack")
        roc.legend(frameon=False, loc="lower right")
        return png(figure)


def mmlu_figure(results: Sequence[Result], subjects: Sequence[str]) -> bytes:
    """Accuracy per MMLU subject, one bar per result that has per-subject counts; the
    dashed line is chance (one in four)."""
    shown = [(k, r) for k, r in enumerate(results) if subject_counts(r) is not None]
    height = 0.8 / len(shown)
    with rc_context(STYLE):
        inches = 1.5 + len(subjects) * (0.16 * len(shown) + 0.08)
        figure = Figure(figsize=(9, inches), layout="constrained")
        ax = figure.subplots()
        y = np.arange(len(subjects))
        for j, (k, result) in enumerate(shown):
            counts = subject_counts(result)
            values = np.array([subject_accuracy(counts.get(s)) for s in subjects])
            overall = result.scores.get("mmlu")
            label = result.name if overall is None else f"{result.name} (all: {overall:.3f})"
            offset = (j - (len(shown) - 1) / 2) * height
            bars = ax.barh(y + offset, np.nan_to_num(values), height, color=colour(k), label=label)
            names = ["-" if np.isnan(v) else f"{v:.2f}" for v in values]
            ax.bar_label(bars, names, padding=2, fontsize=7)
        ax.set_yticks(y, [s.replace("_", " ") for s in subjects])
        ax.set_ylim(len(subjects) - 0.5, -0.5)  # first subject on top, no empty margin
        ax.set_xlim(0, 1.08)
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.tick_params(labeltop=True, top=True)
        ax.set_xlabel("accuracy")
        ax.axvline(0.25, color="0.6", linestyle="--", linewidth=0.8)
        ax.grid(axis="x", alpha=0.3)
        figure.legend(loc="outside upper center", ncols=min(len(shown), 4), frameon=False)
        return png(figure)


def steps_figure(name: str, steps: Sequence[Checkpoint]) -> bytes:
    """Each component along the steps: the headline numbers, then per task forget (red)
    and retain (blue) regurgitation (solid) and knowledge (dashed)."""
    x = [c.step for c in steps]
    with rc_context(STYLE):
        figure = Figure(figsize=(12, 3.4), layout="constrained")
        head, *tasks = figure.subplots(1, 1 + len(TASKS), sharey=True)
        for k, (key, label) in enumerate(HEADLINE):
            values = [np.nan if c.scores.get(key) is None else c.scores[key] for c in steps]
            head.plot(x, values, marker="o", markersize=3, color=colour(k), label=label)
        head.set_title(f"{name}: the score")
        head.legend(frameon=False, fontsize=7)
        for ax, task in zip(tasks, TASKS):
            for split, split_colour in zip(SPLITS, ("C3", "C0")):
                for metric, style in zip(METRICS, ("-", "--")):
                    values = [c.scores[split][task][metric] for c in steps]
                    ax.plot(
                        x,
                        values,
                        linestyle=style,
                        marker="o",
                        markersize=3,
                        color=split_colour,
                        label=f"{split} {metric}",
                    )
            ax.set_title(task)
        tasks[0].legend(frameon=False, fontsize=7)
        for ax in (head, *tasks):
            ax.set_xlabel("step")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        return png(figure)
