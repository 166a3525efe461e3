"""Rendering standings: the display cells every format shares, Markdown, CSV and JSON.

Every string that comes from a result (names are directory names, which entrants choose;
reasons quote the submission's errors) is kept as it is in the display cells and escaped
for its format by :mod:`scorer.safe_text` when it is written: a name cannot add a Markdown
table cell, a spreadsheet formula or a line to a table. The output depends on the
standings only: the same results give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from scorer.leaderboard.ranking import (
    BELOW_THRESHOLD,
    GROUP_ORDER,
    INCOMPLETE,
    RANKED,
    UNSCORED,
    Standing,
)
from scorer.safe_text import csv_cell, markdown

UNKNOWN = "-"
COLUMNS = (
    "rank",
    "name",
    "final",
    "95% interval",
    "P(order)",
    "task agg.",
    "MIA score",
    "MMLU",
    "wall time",
    "GPU-h",
    "notes",
)
TEXT_COLUMNS = ("name", "notes")  # left-aligned; every other column is a number
GROUP_TITLES = {
    RANKED: "Ranking",
    BELOW_THRESHOLD: "Honourable mentions (MMLU below the threshold, not ranked)",
    INCOMPLETE: "Incomplete (no MIA or MMLU score, not ranked)",
    UNSCORED: "Not scored",
}
FORMATS = ("md", "csv", "html", "json")


def format_duration(seconds: float | None) -> str:
    """``12.3s``, ``4m05s``, ``1h02m03s``; ``-`` when unknown."""
    if seconds is None:
        return UNKNOWN
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _score(s: Standing, key: str) -> float | None:
    return None if s.entry.scores is None else s.entry.scores.get(key)


def _fmt(value: float | None, digits: int) -> str:
    return UNKNOWN if value is None else f"{value:.{digits}f}"


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600.0


def display_row(s: Standing, digits: int = 4) -> list[str]:
    """The cells of :data:`COLUMNS` for one standing, as text (entrants' text as it is:
    each format escapes it, :mod:`scorer.safe_text`)."""
    interval = UNKNOWN
    if s.interval is not None:
        interval = f"{s.interval[0]:.{digits}f}\u2013{s.interval[1]:.{digits}f}"  # an en dash
    return [
        "" if s.rank is None else str(s.rank),
        s.entry.name,
        _fmt(_score(s, "final_score"), digits),
        interval,
        _fmt(s.p_order, 3),
        *(_fmt(_score(s, key), digits) for key in ("task_aggregate", "mia_score", "mmlu")),
        format_duration(s.entry.wall_seconds),
        _fmt(_hours(s.entry.gpu_seconds), 2),
        "; ".join(s.flags),
    ]


def groups(standings: Sequence[Standing]) -> list[tuple[str, list[Standing]]]:
    """The non-empty groups in leaderboard order, each with its standings."""
    return [
        (group, members)
        for group in GROUP_ORDER
        if (members := [s for s in standings if s.group == group])
    ]


def notes(standings: Sequence[Standing]) -> list[str]:
    """The footnotes: what the interval, P(order) and GPU-h columns mean, why a pair has no
    probability, and the MMLU thresholds applied."""
    out = []
    if any(s.interval is not None for s in standings):
        out.append(
            "95% interval: percentile bootstrap of the final score (items within each "
            "split x task x metric, MIA documents and MMLU questions resampled)."
        )
    if any(s.p_order is not None or s.pair_note is not None for s in standings):
        out.append(
            "P(order): the fraction of paired bootstrap replicates (the same items resampled "
            "for both) in which a row's final score is above the next row's in its group; "
            "a tie counts one half."
        )
    for upper, lower in zip(standings, standings[1:]):
        if upper.pair_note is not None:
            out.append(
                f"no P(order) for {upper.entry.name} over {lower.entry.name}: {upper.pair_note}."
            )
    out.append(
        "wall time and GPU-h (busy GPU-hours measured through NVML) come from run.json; "
        f"'{UNKNOWN}' where there is none or nothing was measured."
    )
    thresholds = sorted({s.mmlu_threshold for s in standings if s.mmlu_threshold is not None})
    if thresholds:
        listed = ", ".join(f"{t:g}" for t in thresholds)
        out.append(f"MMLU threshold: {listed}; entries below it are honourable mentions.")
    else:
        out.append("No MMLU threshold: no entry is left out of the ranking for its MMLU.")
    return out


def to_records(standings: Sequence[Standing]) -> list[dict]:
    """One JSON-ready dict per standing, in leaderboard order (full precision)."""
    return [
        {
            "rank": s.rank,
            "name": s.entry.name,
            "group": s.group,
            "status": s.entry.status,
            "reason": s.entry.reason,
            "flags": list(s.flags),
            "final_score": _score(s, "final_score"),
            "final_score_interval": None if s.interval is None else list(s.interval),
            "p_order": s.p_order,
            "pair_note": s.pair_note,
            **{key: _score(s, key) for key in ("task_aggregate", "mia_auc", "mia_score", "mmlu")},
            "mmlu_threshold": s.mmlu_threshold,
            "mmlu_passed": s.mmlu_passed,
            "wall_seconds": s.entry.wall_seconds,
            "gpu_hours": _hours(s.entry.gpu_seconds),
            "allocated_gpu_hours": _hours(s.entry.allocated_gpu_seconds),
            "peak_memory_bytes": s.entry.peak_memory_bytes,
            "source": s.entry.source,
        }
        for s in standings
    ]


def to_json(standings: Sequence[Standing], title: str = "Leaderboard") -> str:
    """The whole leaderboard: entries in order, and the footnotes (ASCII, indented)."""
    board = {
        "title": title,
        "mmlu_thresholds": sorted(
            {s.mmlu_threshold for s in standings if s.mmlu_threshold is not None}
        ),
        "entries": to_records(standings),
        "notes": notes(standings),
    }
    return json.dumps(board, indent=2) + "\n"


def to_markdown(standings: Sequence[Standing], title: str = "Leaderboard") -> str:
    """GitHub-flavoured Markdown: one table per group, then the footnotes."""
    align = "|" + "|".join("---" if c in TEXT_COLUMNS else "---:" for c in COLUMNS) + "|"
    lines = [f"# {markdown(title)}"]
    for group, members in groups(standings):
        lines += ["", f"## {GROUP_TITLES[group]}", "", "| " + " | ".join(COLUMNS) + " |", align]
        lines += ["| " + " | ".join(markdown(c) for c in display_row(s)) + " |" for s in members]
    lines += ["", *(f"- {markdown(note)}" for note in notes(standings))]
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "rank",
    "name",
    "group",
    "status",
    "final_score",
    "final_score_lo",
    "final_score_hi",
    "p_order",
    "pair_note",
    "task_aggregate",
    "mia_auc",
    "mia_score",
    "mmlu",
    "mmlu_threshold",
    "mmlu_passed",
    "flags",
    "reason",
    "wall_seconds",
    "gpu_hours",
    "allocated_gpu_hours",
    "peak_memory_bytes",
    "source",
)


def to_csv(standings: Sequence[Standing]) -> str:
    """Full-precision CSV, one row per standing, empty cells for unknown values."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in to_records(standings):
        interval = record.pop("final_score_interval") or (None, None)
        record["final_score_lo"], record["final_score_hi"] = interval
        record["flags"] = "; ".join(record["flags"])
        row = {}
        for key in CSV_FIELDS:
            value = record[key]
            row[key] = "" if value is None else csv_cell(value) if isinstance(value, str) else value
        writer.writerow(row)
    return buffer.getvalue()
