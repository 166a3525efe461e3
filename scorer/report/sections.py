"""The report's sections, each from the loaded results: what it shows (text, figures,
tables: data that the template lays out and escapes) and whether it had the data to show
(a missing part says "not available" and why, never fails)."""

from __future__ import annotations

from collections.abc import Sequence

from scorer.beyond.attacks import ATTACKS
from scorer.contract import SPLITS, TASKS
from scorer.leaderboard import format_duration
from scorer.report import figures
from scorer.report.loading import METRICS, Result, subject_accuracy, subject_counts
from scorer.report.page import (
    Bullets,
    Figure,
    Generation,
    ItemRow,
    Items,
    NotAvailable,
    Paragraph,
    Section,
    Table,
    WithInterval,
    number,
)

HEADLINE = (
    ("final_score", "final score"),
    ("task_aggregate", "task aggregate"),
    ("mia_auc", "MIA AUC"),
    ("mia_score", "MIA score"),
    ("mmlu", "MMLU"),
)
GiB = 1024**3


def _bootstrap(result: Result) -> dict:
    return (result.scores.get("beyond_official") or {}).get("bootstrap") or {}


def _with_interval(value: float | None, interval: object) -> WithInterval:
    if isinstance(interval, list) and len(interval) == 2 and value is not None:
        return WithInterval(number(value), f"{interval[0]:.3f}, {interval[1]:.3f}")
    return WithInterval(number(value))


def summary(results: Sequence[Result]) -> Section:
    """The headline numbers of every result, with their bootstrap 95% intervals."""
    rows = []
    for r in results:
        boot = _bootstrap(r)
        passed = r.scores.get("mmlu_passed")
        gate = {True: "passed", False: "below", None: "-"}[passed]
        threshold = r.scores.get("mmlu_threshold")
        gate += "" if threshold is None else f" ({threshold:g})"
        rows.append(
            [r.name, *(_with_interval(r.scores.get(k), boot.get(k)) for k, _ in HEADLINE), gate]
        )
    head = ["result", *(label for _, label in HEADLINE), "MMLU gate"]
    parts: list = [Table(head, rows, [False] + [True] * len(HEADLINE) + [False])]
    if any(_bootstrap(r) for r in results):
        parts.append(Paragraph("[lo, hi]: bootstrap 95% intervals (items resampled).", True))
    return Section("summary", "Scores", tuple(parts), True)


def tasks(results: Sequence[Result]) -> Section:
    """Per task, forget against retain regurgitation and knowledge."""
    head = ["result", "split"] + [f"{t} {m}" for t in TASKS for m in ("regurg.", "knowl.")]
    rows = [
        [r.name, split] + [number(r.scores[split][t][m]) for t in TASKS for m in METRICS]
        for r in results
        for split in SPLITS
    ]
    parts = (
        Paragraph(
            "Mean item score per task: ROUGE-L recall of the sentence completions "
            "(regurgitation) and exact match of the answers (knowledge). Unlearning should "
            "bring forget down and keep retain up; the official score takes 1 - x of the "
            "forget numbers."
        ),
        Figure(figures.components_figure(results), "forget and retain components per task"),
        Table(head, rows, [False, False] + [True] * 6),
    )
    return Section("tasks", "Tasks: forget against retain", parts, True)


def mia(results: Sequence[Result]) -> Section:
    """Each attack's AUC per result, and per result the NLL histograms and ROC curves."""
    with_rows = [r for r in results if r.mia]
    aucs = [(r.scores.get("beyond_official") or {}).get("mia_attacks") or {} for r in results]
    if not with_rows and not any(aucs):
        return Section(
            "mia",
            "Membership inference",
            (NotAvailable("no mia.jsonl and no attack AUCs (scored without --mia)"),),
            False,
            "no mia.jsonl",
        )
    rows = []
    for key, attack in ATTACKS.items():
        label = attack.label + (" (official)" if attack.official else "")
        rows.append([label] + [number(a.get(key)) for a in aucs])
    rows.append(["MIA score (official)"] + [number(r.scores.get("mia_score")) for r in results])
    parts: list = [
        Paragraph(
            "AUC of each attack, members (forget documents) against nonmembers: 0.5 is "
            "chance, what unlearning aims at; the official MIA score is 1 - 2|AUC - 0.5| of "
            "the loss attack."
        ),
        Table(["attack", *(r.name for r in results)], rows, [False] + [True] * len(results)),
    ]
    for r in results:
        if r.mia and len({row["member"] for row in r.mia}) == 2:  # members and nonmembers
            parts.append(Figure(figures.mia_figure(r), f"{r.name}: NLL histograms and ROC curves"))
        else:
            parts.append(NotAvailable(f"{r.name}: no mia.jsonl with members and nonmembers"))
    return Section("mia", "Membership inference", tuple(parts), bool(with_rows))


def mmlu(results: Sequence[Result]) -> Section:
    """Accuracy per MMLU subject (``mmlu_details.by_subject``)."""
    counted = [r for r in results if subject_counts(r) is not None]
    if not counted:
        why = (
            "MMLU was not scored (no --mmlu)"
            if all(r.scores.get("mmlu") is None for r in results)
            else "scores.json has no mmlu_details.by_subject (scored before the kit recorded "
            "it: score again to see the subjects)"
        )
        return Section("mmlu", "MMLU by subject", (NotAvailable(why),), False, why)
    subjects = sorted({s for r in counted for s in subject_counts(r)})
    rows = []
    for subject in subjects:
        cells = []
        for r in counted:
            c = subject_counts(r).get(subject)
            cells.append(
                "-" if not c else f"{c['correct']}/{c['questions']} ({number(subject_accuracy(c))})"
            )
        rows.append([subject.replace("_", " "), *cells])
    head = ["subject", *(r.name for r in counted)]
    parts: list = [
        Figure(figures.mmlu_figure(counted, subjects), "MMLU accuracy per subject"),
        Table(head, rows, [False] + [True] * len(counted), summary="Counts per subject"),
    ]
    missing = [r.name for r in results if subject_counts(r) is None]
    if missing:
        parts.append(NotAvailable(f"per-subject counts of {', '.join(missing)}"))
    return Section("mmlu", "MMLU by subject", tuple(parts), True)


def steps(result: Result) -> Section:
    """Each component along the steps of a run whose checkpoints were all scored."""
    if not result.steps:
        why = (
            "one checkpoint was scored; give a directory of checkpoint sub-directories "
            "(checkpoint-500/, step_1000/ ...) each with a scores.json to follow a run"
        )
        return Section("steps", "Along the steps", (NotAvailable(why),), False, "one checkpoint")
    rows = [
        [str(c.step), c.name] + [number(c.scores.get(k)) for k, _ in HEADLINE] for c in result.steps
    ]
    head = ["step", "checkpoint", *(label for _, label in HEADLINE)]
    parts = (
        Figure(figures.steps_figure(result.name, result.steps), "components along the steps"),
        Table(head, rows, [True, False] + [True] * len(HEADLINE)),
    )
    return Section("steps", "Along the steps", parts, True, f"{len(result.steps)} checkpoints")


def _bytes(value: float | None) -> str:
    return "-" if value is None else f"{value / GiB:.2f} GiB"


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def budget(results: Sequence[Result]) -> Section:
    """Time, memory and GPU use of each result that has a ``run.json``."""
    ran = [r for r in results if r.run is not None]
    if not ran:
        why = "no run.json (the result came from lume-score evaluate, not lume-score run)"
        return Section("budget", "Budget", (NotAvailable(why),), False, why)
    rows = []
    for r in ran:
        run, gpu = r.run, r.run.get("gpu") or {}
        wall, limit = run.get("wall_seconds"), run.get("time_limit_seconds")
        used = _seconds(wall) + (
            ""
            if not (wall is not None and limit)
            else f" of {_seconds(limit)} ({100 * wall / limit:.0f}%)"
        )
        gpu_peak = (
            max((d.get("peak_memory_bytes") or 0 for d in gpu.get("devices") or []), default=0)
            or None
        )
        rows.append(
            [
                r.name,
                run.get("status") or "-",
                used,
                _seconds(run.get("cpu_seconds")),
                _bytes(run.get("peak_memory_bytes")),
                number(gpu.get("gpu_seconds"), 1),
                number(gpu.get("allocated_gpu_seconds"), 1),
                _bytes(gpu_peak),
            ]
        )
    head = [
        "result",
        "status",
        "wall time (of the limit)",
        "CPU time",
        "peak memory",
        "GPU-seconds busy",
        "GPU-seconds held",
        "peak GPU memory",
    ]
    parts: list = [Table(head, rows, [False, False] + [True] * 6)]
    reasons = [f"{r.name}: {r.run['reason']}" for r in ran if r.run.get("reason")]
    if reasons:
        parts.append(Bullets(reasons))
    missing = [r.name for r in results if r.run is None]
    if missing:
        parts.append(Paragraph(f"No run.json for {', '.join(missing)}.", small=True))
    return Section("budget", "Budget", tuple(parts), True)


def _score(row: dict | None) -> str:
    if row is None:
        return "-"
    return f"{row['score']:g}" if row["kind"] == "qa" else f"{row['score']:.3f}"  # qa: 0 or 1


def _generation(match: dict | None) -> Generation:
    if match is None:
        return Generation("-", "-")
    return Generation(match["generation"], _score(match), empty=not match["generation"])


def items(results: Sequence[Result]) -> Section:
    """Every forget and retain item: input, expected output, each result's generation and
    item score (matched by id); filterable by split, task, kind and text."""
    result = results[0]
    if result.items is None:
        why = f"{result.name} has no items.jsonl"
        return Section("items", "Items", (NotAvailable(why),), False, why)
    by_id = [{row["id"]: row for row in (r.items or [])} for r in results]
    head = ["id", "task", "split", "kind", "input", "expected"]
    for r in results:
        head += [f"{r.name}: generation", "score"]
    filters = (
        ("split", [s for s in SPLITS if any(i["split"] == s for i in result.items)]),
        ("task", sorted({i["task"] for i in result.items})),
        ("kind", sorted({i["kind"] for i in result.items})),
    )
    rows = [
        ItemRow(
            *(row[k] for k in ("id", "task", "split", "kind", "input", "expected")),
            generations=[_generation(found.get(row["id"])) for found in by_id],
        )
        for row in result.items
    ]
    notes = [
        NotAvailable(
            f"{r.name}: no items.jsonl" if r.items is None else f"{r.name}: no item matches by id"
        )
        for r, found in zip(results[1:], by_id[1:])
        if not any(i["id"] in found for i in result.items)
    ]
    parts = (*notes, Items(head, filters, rows))
    return Section("items", "Items", parts, True, f"{len(result.items)} items")
