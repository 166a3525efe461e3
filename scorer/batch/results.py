"""The end of a batch: counts for the progress display, and the leaderboard in ``RESULTS/``.

Each judged submission is read with ``scorer.leaderboard.load_result`` from its ``run/``
directory (the entry named after the submission); one that the infrastructure gave up on
is listed, unscored, with why. The leaderboard is ranked as ``lume-score leaderboard``
ranks it (the track's MMLU threshold unless one is given; a track without one has no
gate) and written with ``scorer.leaderboard.render`` in every format, each atomically.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from scorer import leaderboard as lb
from scorer.batch.queue import DONE, FAILED, PENDING, RUNNING, SCORE, UNLEARN, Queue, State
from scorer.data.files import write_bytes_atomic

INFRASTRUCTURE = "infrastructure failure"
FILES = tuple(f"leaderboard.{fmt}" for fmt in lb.FORMATS)


@dataclass(frozen=True)
class Counts:
    """What the progress display shows."""

    total: int
    pending: int
    unlearning: int
    scoring: int
    done: int
    failed: int  # judged but not scored, or given up by the infrastructure
    gpu_hours: float

    @property
    def finished(self) -> int:
        return self.done + self.failed


def counts(states: list[State]) -> Counts:
    """Pending, running (unlearning, scoring), done (scored) and failed (not scored: the
    submission's verdict or the infrastructure's), and the GPU-hours reserved so far."""
    by = Counter(s.state if s.state != RUNNING else f"running-{s.phase}" for s in states)
    scored = sum(1 for s in states if s.state == DONE and s.status in lb.SCORED_STATUSES)
    done_unscored = by[DONE] - scored
    return Counts(
        total=len(states),
        pending=by[PENDING],
        unlearning=by[f"running-{UNLEARN}"],
        scoring=by[f"running-{SCORE}"],
        done=scored,
        failed=done_unscored + by[FAILED],
        gpu_hours=sum(s.gpu_seconds for s in states) / 3600,
    )


def entries(queue: Queue, states: list[State]) -> list[lb.Entry]:
    """One leaderboard entry per submission, named after it."""
    found = []
    for state in states:
        if state.state == DONE:
            entry = lb.load_result(queue.run_dir(state.name))
            found.append(replace(entry, name=state.name))
        else:
            status = INFRASTRUCTURE if state.state == FAILED else state.state
            source = str(queue.results / state.name)
            found.append(lb.Entry(state.name, source, status, None, reason=state.reason))
    return found


def write_leaderboard(
    queue: Queue, states: list[State], mmlu_threshold: float | None, title: str
) -> list[lb.Standing]:
    """Rank the batch as ``lume-score leaderboard --track`` does and write
    ``RESULTS/leaderboard.{md,csv,html,json}``; return the standings."""
    gate = mmlu_threshold is not None  # a track without a threshold (1B) has no gate
    standings = lb.rank(entries(queue, states), mmlu_threshold, gate=gate)
    for fmt, name in zip(lb.FORMATS, FILES):
        text = lb.render(standings, fmt, title)
        write_bytes_atomic(queue.results / name, text.encode("utf-8"))
    return standings


def state_rows(states: list[State]) -> list[dict]:
    """One JSON-ready row per submission, for ``--json`` and the summary table."""
    return [
        {
            "name": s.name,
            "team": s.team,
            "state": s.state,
            "status": s.status,
            "reason": s.reason,
            "attempts": len(s.attempts),
            "lost": s.lost,
            "gpu_hours": s.gpu_seconds / 3600,
        }
        for s in states
    ]


def result_paths(results: Path) -> list[Path]:
    return [results / name for name in FILES]
