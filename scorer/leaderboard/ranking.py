"""Ranking results as the official challenge did, with paired-bootstrap confidence.

Ranking follows SemEval-2025 Task 4: by final score, descending; entries whose MMLU falls
below the track's threshold are flagged and kept out of the ranking (listed apart as
honourable mentions, unranked); scored entries without a final score (no MIA or MMLU) come
next; runs that produced no score (failed, out of memory, invalid checkpoint, never
evaluated) come last with their status. Ties share a rank ("1, 2, 2, 4") and are compared
on the exact stored final score, not on its rounded display. Pure: no I/O.

Where results carry bootstrap replicates of their final score (``scores.json``'s
``beyond_official.bootstrap``), each entry gets its 95% percentile interval, and each
adjacent pair within a group the probability that its order holds: the fraction of
replicates in which the upper entry's final score is above the lower's, a tie counting one
half (two identical submissions get 0.5, and P(A over B) + P(B over A) = 1). Replicates are
compared pairwise only when both results were resampled the same way (same seed, same
replicate count, same resampling digest: the same items drawn in every replicate);
otherwise the pair gets a note saying why, and no probability. Tied entries share a rank
and claim no order between them: no probability either, and a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from scorer.leaderboard.load import Entry
from scorer.official.score import mmlu_passed

RANKED, BELOW_THRESHOLD, INCOMPLETE, UNSCORED = (
    "ranked",
    "below_threshold",
    "incomplete",
    "unscored",
)
GROUP_ORDER = (RANKED, BELOW_THRESHOLD, INCOMPLETE, UNSCORED)
ORDERED_GROUPS = (RANKED, BELOW_THRESHOLD)  # ordered by final score: adjacent pairs compared
INTERVAL_LEVEL = 0.95


@dataclass(frozen=True)
class Standing:
    """An entry's place: ``rank`` is ``None`` outside the ranking (see ``group``).

    ``interval`` is the final score's 95% bootstrap interval; ``p_order`` the probability
    that this entry's order over the next one listed in its group holds (paired bootstrap),
    and ``pair_note`` why there is none when there is a next entry.
    """

    rank: int | None
    group: str
    entry: Entry
    flags: tuple[str, ...]
    mmlu_threshold: float | None
    mmlu_passed: bool | None
    interval: tuple[float, float] | None = None
    p_order: float | None = None
    pair_note: str | None = None


# ----------------------------------------------------------------- the bootstrap


def _final(entry: Entry) -> float:
    return entry.scores["final_score"]  # type: ignore[index]


def _bootstrap(scores: Mapping | None) -> Mapping | None:
    if scores is None:
        return None
    return (scores.get("beyond_official") or {}).get("bootstrap")


def final_replicates(scores: Mapping | None) -> list[float] | None:
    """The stored per-replicate final scores, or ``None``."""
    boot = _bootstrap(scores)
    return None if boot is None else boot.get("final_score_replicates")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default)."""
    ordered = sorted(values)
    position = q / 100.0 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def final_interval(scores: Mapping | None) -> tuple[float, float] | None:
    """The final score's 95% interval: as stored when stored at 95%, else from the
    replicates; ``None`` without a bootstrap."""
    boot = _bootstrap(scores)
    if boot is None:
        return None
    stored = boot.get("final_score")
    if stored is not None and math.isclose(boot["level"], INTERVAL_LEVEL):
        return (stored[0], stored[1])
    replicates = boot.get("final_score_replicates")
    if not replicates:
        return None
    tail = (1.0 - INTERVAL_LEVEL) / 2.0 * 100.0
    return (percentile(replicates, tail), percentile(replicates, 100.0 - tail))


def order_probability(upper: Sequence[float], lower: Sequence[float]) -> float:
    """Fraction of paired replicates with ``upper[r] > lower[r]``, ties counting one half."""
    if len(upper) != len(lower) or not upper:
        raise ValueError("paired replicates must be two non-empty lists of the same length")
    wins = sum(u > v for u, v in zip(upper, lower))
    ties = sum(u == v for u, v in zip(upper, lower))
    return (wins + 0.5 * ties) / len(upper)


def compare(upper: Entry, lower: Entry) -> tuple[float | None, str | None]:
    """The probability that ``upper`` stays above ``lower``, or ``None`` and why not."""
    if _final(upper) == _final(lower):
        return None, "tied: same final score"
    missing = [e.name for e in (upper, lower) if final_replicates(e.scores) is None]
    if missing:
        return None, f"no bootstrap replicates in {' and '.join(missing)}"
    a, b = _bootstrap(upper.scores) or {}, _bootstrap(lower.scores) or {}
    for key, what in (("seed", "seeds"), ("replicates", "replicate counts")):
        if a[key] != b[key]:
            return None, f"not paired: different bootstrap {what} ({a[key]} vs {b[key]})"
    unknown = [e.name for e, boot in ((upper, a), (lower, b)) if not boot.get("resampled")]
    if unknown:
        return None, f"not paired: no resampling digest in {' and '.join(unknown)}"
    if a["resampled"] != b["resampled"]:
        return None, "not paired: scored on different items (resampling digests differ)"
    return order_probability(a["final_score_replicates"], b["final_score_replicates"]), None


# ----------------------------------------------------------------- ranking


def _place(entry: Entry, threshold: float | None) -> Standing:
    if entry.scores is None:
        flags = (entry.status,) if entry.reason is None else (entry.status, entry.reason)
        return Standing(None, UNSCORED, entry, flags, None, None)
    passed = mmlu_passed(entry.scores["mmlu"], threshold)
    flags = []
    if passed is False:
        flags.append(f"MMLU below {threshold:g}")
    if entry.scores["final_score"] is None:
        flags.append("incomplete: no MIA or MMLU")
    if entry.status == "timeout":
        flags.append("timed out")
    if entry.scores["final_score"] is None:
        group = INCOMPLETE
    elif passed is False:
        group = BELOW_THRESHOLD
    else:
        group = RANKED
    return Standing(
        None, group, entry, tuple(flags), threshold, passed, final_interval(entry.scores)
    )


def rank(
    entries: Sequence[Entry], mmlu_threshold: float | None = None, *, gate: bool = True
) -> list[Standing]:
    """Order ``entries`` into ranked, below-threshold, incomplete and unscored groups.

    ``mmlu_threshold`` overrides each result's own ``mmlu_threshold``; with neither, or
    with ``gate=False`` (the 1B track), no entry is filtered. Ranked entries get
    competition ranks by final score; within a tie, and in every other group, entries are
    ordered by name. The result does not depend on the order of ``entries``.
    """
    standings = []
    for entry in entries:
        own = None if entry.scores is None else entry.scores.get("mmlu_threshold")
        threshold = (mmlu_threshold if mmlu_threshold is not None else own) if gate else None
        standings.append(_place(entry, threshold))

    def order(s: Standing) -> tuple:
        final = -_final(s.entry) if s.group in ORDERED_GROUPS else 0.0
        return (GROUP_ORDER.index(s.group), final, s.entry.name)

    standings.sort(key=order)
    finals = [_final(s.entry) for s in standings if s.group == RANKED]
    standings = [
        replace(s, rank=1 + sum(f > _final(s.entry) for f in finals)) if s.group == RANKED else s
        for s in standings
    ]
    for i in range(len(standings) - 1):
        upper, lower = standings[i], standings[i + 1]
        if upper.group == lower.group and upper.group in ORDERED_GROUPS:
            p, note = compare(upper.entry, lower.entry)
            standings[i] = replace(upper, p_order=p, pair_note=note)
    return standings
