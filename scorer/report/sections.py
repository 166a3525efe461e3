"""The report's sections, each from the loaded results: an HTML fragment and whether it
had the data to show (a missing part says "not available" and why, never fails)."""

from __future__ import annotations

from collections.abc import Sequence

from scorer.beyond.attacks import ATTACKS
from scorer.contract import SPLITS, TASKS
from scorer.leaderboard import format_duration
from scorer.report import figures
from scorer.report.loading import METRICS, Result, subject_accuracy, subject_counts
from scorer.report.page import Section, image, not_available, number, table, text

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


def _with_interval(value: float | None, interval: object) -> str:
    shown = number(value)
    if isinstance(interval, list) and len(interval) == 2 and value is not None:
        shown += f" <small>[{interval[0]:.3f}, {interval[1]:.3f}]</small>"
    return shown


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
            [text(r.name)]
            + [_with_interval(r.scores.get(k), boot.get(k)) for k, _ in HEADLINE]
            + [text(gate)]
        )
    head = ["result", *(label for _, label in HEADLINE), "MMLU gate"]
    body = table(head, rows, [False] + [True] * len(HEADLINE) + [False])
    if any(_bootstrap(r) for r in results):
        body += "<p><small>[lo, hi]: bootstrap 95% intervals (items resampled).</small></p>"
    return Section("summary", "Scores", body, True)


def tasks(results: Sequence[Result]) -> Section:
    """Per task, forget against retain regurgitation and knowledge."""
    head = ["result", "split"] + [f"{t} {m}" for t in TASKS for m in ("regurg.", "knowl.")]
    rows = [
        [text(r.name), split] + [number(r.scores[split][t][m]) for t in TASKS for m in METRICS]
        for r in results
        for split in SPLITS
    ]
    body = (
        "<p>Mean item score per task: ROUGE-L recall of the sentence completions "
        "(regurgitation) and exact match of the answers (knowledge). Unlearning should bring "
        "forget down and keep retain up; the official score takes 1 - x of the forget numbers.</p>"
        + image(figures.components_figure(results), "forget and retain components per task")
        + table(head, rows, [False, False] + [True] * 6)
    )
    return Section("tasks", "Tasks: forget against retain", body, True)


def mia(results: Sequence[Result]) -> Section:
    """Each attack's AUC per result, and per result the NLL histograms and ROC curves."""
    with_rows = [r for r in results if r.mia]
    aucs = [(r.scores.get("beyond_official") or {}).get("mia_attacks") or {} for r in results]
    if not with_rows and not any(aucs):
        return Section(
            "mia",
            "Membership inference",
            not_available("no mia.jsonl and no attack AUCs (the result was scored without --mia)"),
            False,
            "no mia.jsonl",
        )
    rows = []
    for key, attack in ATTACKS.items():
        label = attack.label + (" (official)" if attack.official else "")
        rows.append([text(label)] + [number(a.get(key)) for a in aucs])
    rows.append(["MIA score (official)"] + [number(r.scores.get("mia_score")) for r in results])
    body = [
        "<p>AUC of each attack, members (forget documents) against nonmembers: 0.5 is chance, "
        "what unlearning aims at; the official MIA score is 1 - 2|AUC - 0.5| of the loss "
        "attack.</p>",
        table(["attack", *(text(r.name) for r in results)], rows, [False] + [True] * len(results)),
    ]
    for r in results:
        if r.mia and len({row["member"] for row in r.mia}) == 2:  # members and nonmembers
            body.append(image(figures.mia_figure(r), f"{r.name}: NLL histograms and ROC curves"))
        else:
            body.append(not_available(f"{r.name}: no mia.jsonl with members and nonmembers"))
    return Section("mia", "Membership inference", "\n".join(body), bool(with_rows))


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
        return Section("mmlu", "MMLU by subject", not_available(why), False, why)
    subjects = sorted({s for r in counted for s in subject_counts(r)})
    rows = []
    for subject in subjects:
        cells = []
        for r in counted:
            c = subject_counts(r).get(subject)
            cells.append(
                "-" if not c else f"{c['correct']}/{c['questions']} ({number(subject_accuracy(c))})"
            )
        rows.append([text(subject.replace("_", " ")), *cells])
    body = (
        image(figures.mmlu_figure(counted, subjects), "MMLU accuracy per subject")
        + "<details><summary>Counts per subject</summary>"
        + table(
            ["subject", *(text(r.name) for r in counted)], rows, [False] + [True] * len(counted)
        )
        + "</details>"
    )
    missing = [r.name for r in results if subject_counts(r) is None]
    if missing:
        body += not_available(f"per-subject counts of {', '.join(missing)}")
    return Section("mmlu", "MMLU by subject", body, True)


def steps(result: Result) -> Section:
    """Each component along the steps of a run whose checkpoints were all scored."""
    if not result.steps:
        why = (
            "one checkpoint was scored; give a directory of checkpoint sub-directories "
            "(checkpoint-500/, step_1000/ ...) each with a scores.json to follow a run"
        )
        return Section("steps", "Along the steps", not_available(why), False, "one checkpoint")
    rows = [
        [str(c.step), text(c.name)] + [number(c.scores.get(k)) for k, _ in HEADLINE]
        for c in result.steps
    ]
    head = ["step", "checkpoint", *(label for _, label in HEADLINE)]
    body = image(
        figures.steps_figure(result.name, result.steps), "components along the steps"
    ) + table(head, rows, [True, False] + [True] * len(HEADLINE))
    return Section("steps", "Along the steps", body, True, f"{len(result.steps)} checkpoints")


def _bytes(value: float | None) -> str:
    return "-" if value is None else f"{value / GiB:.2f} GiB"


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def budget(results: Sequence[Result]) -> Section:
    """Time, memory and GPU use of each result that has a ``run.json``."""
    ran = [r for r in results if r.run is not None]
    if not ran:
        why = "no run.json (the result came from lume-score evaluate, not lume-score run)"
        return Section("budget", "Budget", not_available(why), False, why)
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
                text(r.name),
                text(run.get("status") or "-"),
                text(used),
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
    body = table(head, rows, [False, False] + [True] * 6)
    reasons = [f"{r.name}: {r.run['reason']}" for r in ran if r.run.get("reason")]
    if reasons:
        body += "<ul>" + "".join(f"<li>{text(x)}</li>" for x in reasons) + "</ul>"
    missing = [r.name for r in results if r.run is None]
    if missing:
        body += f"<p><small>No run.json for {text(', '.join(missing))}.</small></p>"
    return Section("budget", "Budget", body, True)


def _score(row: dict | None) -> str:
    if row is None:
        return "-"
    return f"{row['score']:g}" if row["kind"] == "qa" else f"{row['score']:.3f}"  # qa: 0 or 1


def _select(name: str, values: Sequence[str]) -> str:
    options = "".join(f'<option value="{text(v)}">{text(v)}</option>' for v in values)
    return (
        f'<label>{name} <select id="filter-{name}"><option value="">all</option>'
        f"{options}</select></label>"
    )


def items(results: Sequence[Result]) -> Section:
    """Every forget and retain item: input, expected output, each result's generation and
    item score (matched by id); filterable by split, task, kind and text."""
    result = results[0]
    if result.items is None:
        why = f"{result.name} has no items.jsonl"
        return Section("items", "Items", not_available(why), False, why)
    by_id = [{row["id"]: row for row in (r.items or [])} for r in results]
    head = ["id", "task", "split", "kind", "input", "expected"]
    for r in results:
        head += [f"{text(r.name)}: generation", "score"]
    lines = [
        '<div class="controls">',
        _select("split", [s for s in SPLITS if any(i["split"] == s for i in result.items)]),
        _select("task", sorted({i["task"] for i in result.items})),
        _select("kind", sorted({i["kind"] for i in result.items})),
        '<label>text <input id="filter-q" type="search" placeholder="search"></label>',
        '<span id="filter-count"></span>',
        "</div>",
        '<table id="items-table">',
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>",
        "<tbody>",
    ]
    for row in result.items:
        data = " ".join(f'data-{k}="{text(row[k])}"' for k in ("split", "task", "kind"))
        cells = [f'<td class="id">{text(row["id"])}</td>']
        cells += [f"<td>{text(row[k])}</td>" for k in ("task", "split", "kind")]
        cells += [f'<td class="text"><div>{text(row[k])}</div></td>' for k in ("input", "expected")]
        for found in by_id:
            match = found.get(row["id"])
            generation = "-" if match is None else text(match["generation"])
            if match is not None and not match["generation"]:
                generation = '<span class="muted">(empty)</span>'
            cells += [
                f'<td class="text"><div>{generation}</div></td>',
                f'<td class="num">{_score(match)}</td>',
            ]
        lines.append(f"<tr {data}>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    notes = [
        f"{r.name}: no items.jsonl" if r.items is None else f"{r.name}: no item matches by id"
        for r, found in zip(results[1:], by_id[1:])
        if not any(i["id"] in found for i in result.items)
    ]
    intro = (
        "<p>Score: ROUGE-L recall for sentence completions (sc), exact match for questions "
        "(qa). Filters can be preset in the address: <code>#split=forget&amp;task=Task2</code>."
        "</p>"
    )
    body = intro + "".join(not_available(n) for n in notes) + "\n".join(lines)
    return Section("items", "Items", body, True, f"{len(result.items)} items")
