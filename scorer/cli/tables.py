"""Every rich table the CLIs print (``lume-score`` and ``lume``), in one place.

Importing this module imports neither torch nor numpy (the CLIs' ``--help`` imports it):
types from heavier modules are named for type checkers only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from scorer.contract import SPLITS, TASKS
from scorer.leaderboard import (
    BELOW_THRESHOLD,
    COLUMNS,
    INCOMPLETE,
    RANKED,
    UNSCORED,
    Standing,
    display_row,
    groups,
    notes,
)
from scorer.safe_text import printable, terminal

if TYPE_CHECKING:
    from scorer.evaluation.progress import PhaseTimer


def _fmt(value: float | None, digits: int = 4) -> str:
    return "missing" if value is None else f"{value:.{digits}f}"


def scores_table(scores: dict, title: str = "LUME scores") -> Table:
    """The 12 components and the three headline numbers, as printed after a run."""
    table = Table(title=title)
    table.add_column("split")
    for task in TASKS:
        table.add_column(f"{task} regurg.", justify="right")
        table.add_column(f"{task} knowl.", justify="right")
    for split in SPLITS:
        row = [split]
        for task in TASKS:
            row += [
                _fmt(scores[split][task]["regurgitation"]),
                _fmt(scores[split][task]["knowledge"]),
            ]
        table.add_row(*row)
    return table


def summary_table(scores: dict) -> Table:
    table = Table(title="Summary")
    for name in ("task aggregate", "MIA AUC", "MIA score", "MMLU", "MMLU passed", "final score"):
        table.add_column(name, justify="right")
    passed = scores["mmlu_passed"]
    table.add_row(
        _fmt(scores["task_aggregate"]),
        _fmt(scores["mia_auc"]),
        _fmt(scores["mia_score"]),
        _fmt(scores["mmlu"]),
        "n/a" if passed is None else ("yes" if passed else "NO"),
        _fmt(scores["final_score"]),
    )
    return table


def beyond_table(scores: dict) -> Table:
    """The extra MIA attacks and the bootstrap intervals: beside the official score.

    The attacks' names come from their registry (imported here, not at the top: it pulls
    in numpy and the ROUGE scorer, which ``--help`` does not need).
    """
    from scorer.beyond.attacks import ATTACKS

    official = next(attack for attack in ATTACKS.values() if attack.official)
    extra = scores.get("beyond_official") or {}
    table = Table(title="Beyond the official score (not part of it)")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("95% interval", justify="right")
    intervals = extra.get("bootstrap") or {}
    for key, label in (
        ("task_aggregate", "task aggregate"),
        ("mia_auc", f"MIA AUC ({official.label})"),
        ("mmlu", "MMLU"),
        ("final_score", "final score"),
    ):
        span = intervals.get(key)
        interval = "n/a" if span is None else f"[{span[0]:.3f}, {span[1]:.3f}]"
        table.add_row(label, _fmt(scores.get(key)), interval)
    attacks = extra.get("mia_attacks") or {}
    for attack in ATTACKS.values():
        if not attack.official and attack.key in attacks:
            table.add_row(f"MIA AUC ({attack.label})", _fmt(attacks[attack.key]), "")
    if "agreement" in scores:
        agreement = scores["agreement"]
        table.add_row(
            "same as --exact",
            f"{agreement['identical_generations']}/{agreement['items']}",
            f"max item diff {agreement['max_item_score_difference']:.3f}",
        )
    return table


def timings_table(timer: PhaseTimer) -> Table:
    table = Table(title="Phases")
    for name in ("phase", "seconds", "peak RSS (MB)"):
        table.add_column(name, justify="left" if name == "phase" else "right")
    for name, seconds in timer.seconds.items():
        rss = timer.peak_rss_bytes.get(name)
        table.add_row(name, f"{seconds:.2f}", "?" if rss is None else f"{rss / 2**20:.0f}")
    return table


def _mean_of(scores: dict, split: str, metric: str) -> float:
    values = [scores[split][task][metric] for task in TASKS]
    return sum(values) / len(values)


def comparison_table(rows: list[tuple[str, dict]], title: str = "Comparison") -> Table:
    """One row per scored model: forget (F) / retain (R) means over the tasks, the three
    components and the final score; narrow enough for an 80-column terminal."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    columns = ("model", "F reg", "F kn", "R reg", "R kn", "agg", "AUC", "MIA", "MMLU", "final")
    for name in columns:
        width = max(len(n) for n, _ in rows) if name == "model" else 5
        table.add_column(name, justify="left" if name == "model" else "right", min_width=width)
    for name, scores in rows:
        table.add_row(
            name,
            *(
                _fmt(_mean_of(scores, split, metric), 3)
                for split in SPLITS
                for metric in ("regurgitation", "knowledge")
            ),
            *(
                _fmt(scores[key], 3)
                for key in ("task_aggregate", "mia_auc", "mia_score", "mmlu", "final_score")
            ),
        )
    return table


def violations_table(violations: Iterable) -> Table:
    """``lume-score validate``'s violations: rule, file, tensor, message (``Violation`` records)."""
    violations = list(violations)
    table = Table(title=f"{len(violations)} violation(s)", box=box.SIMPLE_HEAD)
    for name in ("rule", "file", "tensor", "message"):
        table.add_column(name, overflow="fold")
    for v in violations:
        table.add_row(v.rule, v.file, v.tensor or "", v.message)
    return table


def _gb(value: int | None) -> str:
    return "?" if value is None else f"{value / 1e9:.2f} GB"


def run_table(record: dict) -> Table:
    """What happened, in one table: status, budget used, isolation, validation."""
    table = Table(title=f"lume-score run: {record['submission']}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    status = record["status"].upper() if record["status"] != "ok" else "ok"
    table.add_row("status", status + (f" ({record['reason']})" if record["reason"] else ""))
    table.add_row("scored", "yes" if record["scored"] else "no")
    table.add_row("exit code", str(record["exit_code"]))
    table.add_row(
        "wall / limit", f"{record['wall_seconds']:.1f} s / {record['time_limit_seconds']:g} s"
    )
    cpu = record["cpu_seconds"]
    table.add_row("CPU time", "unknown" if cpu is None else f"{cpu:.1f} s")
    table.add_row("peak memory", _gb(record["peak_memory_bytes"]))
    gpu = record.get("gpu")
    if gpu:
        busy = gpu.get("gpu_seconds")
        table.add_row(
            "GPU",
            f"{len(gpu['granted'])} granted, "
            + (f"{busy:.1f} busy GPU-s" if busy is not None else f"not measured: {gpu['why_not']}"),
        )
    isolation = record["isolation"]
    cut = (isolation.get("network") or {}).get("cut")
    seccomp = (isolation.get("seccomp") or {}).get("mode", "unknown")
    table.add_row(
        "isolation (read back)",
        f"{isolation.get('mode', '?')}, uid {isolation.get('run_uid', '?')}, network "
        + {True: "cut", False: "open"}.get(cut, "unknown")
        + f", seccomp {seccomp}, cgroup "
        + ("yes" if isolation.get("child_in_cgroup") else "no"),
    )
    lost = isolation.get("lost") or []
    if lost:
        table.add_row("isolation lost", "; ".join(lost))
    validation = record["validation"]
    violations = validation["violations"]
    if validation["ok"]:
        verdict = "valid"
    elif violations:
        verdict = f"{len(violations)} violation(s); first: {violations[0]['message']}"
    else:
        verdict = "invalid"
    table.add_row("checkpoint", verdict)
    table.add_row("log", f"{record['log']['file']} ({record['log']['bytes']} bytes)")
    return table


LEADERBOARD_HEADERS = {  # short headers: with the notes below, the table fits 80 columns
    "rank": "#",
    "95% interval": "95% CI",
    "P(order)": "P(ord)",
    "task agg.": "agg.",
    "MIA score": "MIA",
    "wall time": "wall",
}
LEADERBOARD_GROUPS = {  # a group's heading row (in the name column: kept short)
    BELOW_THRESHOLD: "honourable mentions",
    INCOMPLETE: "incomplete",
    UNSCORED: "not scored",
}


def leaderboard_table(standings: Sequence[Standing], title: str = "Leaderboard") -> Table:
    """The rich table ``lume-score leaderboard`` prints: a section per group (ranking,
    honourable mentions, incomplete, not scored); each entry's notes (status, reason,
    flags) and the footnotes go below it, so that the table fits 80 columns. Cells are
    ``Text``, never markup: a name like ``[red]x`` shows as written (made printable)."""
    columns = [c for c in COLUMNS if c != "notes"]
    below = [
        printable(f"{row[1]}: {row[-1]}") for row in (display_row(s) for s in standings) if row[-1]
    ] + [printable(note) for note in notes(standings)]
    table = Table(
        title=Text(title),
        box=box.SIMPLE_HEAD,
        padding=0,  # the box's blank divider separates the columns
        caption=Text("\n".join(below)),
        caption_justify="left",
    )
    for column in columns:
        table.add_column(
            LEADERBOARD_HEADERS.get(column, column),
            justify="left" if column == "name" else "right",
            no_wrap=True,
        )
    for index, (group, members) in enumerate(groups(standings)):
        if index:
            table.add_section()
        if group != RANKED:
            table.add_row("", Text(LEADERBOARD_GROUPS[group], style="bold"))
        for s in members:
            style = None if s.group == RANKED else "dim"
            cells = display_row(s, digits=3)[: len(columns)]
            table.add_row(*(Text(printable(cell)) for cell in cells), style=style)
    return table


def batch_table(rows: list[dict]) -> Table:
    """One row per submission: its state, verdict, attempts and GPU-hours."""
    table = Table(title="Submissions")
    for column in ("name", "team", "state", "status", "tasks", "lost", "GPU-h", "reason"):
        table.add_column(column, justify="right" if column in ("tasks", "lost") else "left")
    for row in rows:
        table.add_row(
            row["name"],
            terminal(row["team"]),
            row["state"],
            row["status"] or "",
            str(row["attempts"]),
            str(row["lost"]),
            f"{row['gpu_hours']:.2f}",
            terminal(row["reason"] or ""),
        )
    return table
