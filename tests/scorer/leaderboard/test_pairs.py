"""Paired bootstrap: each final score's interval and the probability that an order holds,
on crafted replicates (numbers checked by hand) and on the real bootstrap's output."""

from __future__ import annotations

import random

import numpy as np
import pytest

from scorer.beyond.attacks import ATTACKS
from scorer.contract import SPLITS, TASKS
from scorer.evaluation.settings import EvalSettings
from scorer.evaluation.summary import beyond_official, scores_record
from scorer.leaderboard import final_interval, order_probability, rank
from scorer.leaderboard.ranking import percentile

# ----------------------------------------------------------------- crafted replicates


def test_order_probability_counts_a_tie_as_one_half():
    upper = [0.50, 0.60, 0.70, 0.40]
    lower = [0.45, 0.60, 0.80, 0.30]
    # replicate 1 and 4: upper above (2); replicate 2: a tie (1/2); replicate 3: below
    assert order_probability(upper, lower) == (2 + 0.5) / 4
    assert order_probability(lower, upper) == (1 + 0.5) / 4  # the two add up to one
    assert order_probability(upper, upper) == 0.5
    with pytest.raises(ValueError, match="same length"):
        order_probability(upper, lower[:3])


def test_adjacent_pairs_get_their_probability(crafted):
    b, e = crafted.bootstrap, crafted.entry
    a_reps = [0.71, 0.69, 0.72, 0.70, 0.68, 0.73, 0.70, 0.71]
    b_reps = [0.62, 0.70, 0.61, 0.60, 0.59, 0.62, 0.70, 0.58]
    c_reps = [0.50, 0.52, 0.63, 0.49, 0.59, 0.51, 0.50, 0.52]
    standings = rank(
        [e("c", 0.5, boot=b(c_reps)), e("a", 0.7, boot=b(a_reps)), e("b", 0.6, boot=b(b_reps))]
    )
    assert [s.entry.name for s in standings] == ["a", "b", "c"]
    # a over b: above in 6 replicates, tied in the 7th (0.70 = 0.70), below in the 2nd (0.69)
    assert standings[0].p_order == pytest.approx((6 + 0.5) / 8)
    # b over c: above in 6 replicates, tied in the 5th (0.59), below in the 3rd (0.61 < 0.63)
    assert standings[1].p_order == pytest.approx((6 + 0.5) / 8)
    assert standings[2].p_order is None and standings[2].pair_note is None  # nothing below c
    assert all(s.pair_note is None for s in standings)


def test_hand_counted_probabilities_for_a_clear_and_a_close_pair(crafted):
    b, e = crafted.bootstrap, crafted.entry
    top = [0.80, 0.81, 0.79, 0.80]
    close = [0.70, 0.82, 0.70, 0.80]  # above top once, tied once
    low = [0.30, 0.31, 0.29, 0.30]
    standings = rank(
        [e("top", 0.8, boot=b(top)), e("close", 0.7, boot=b(close)), e("low", 0.3, boot=b(low))]
    )
    assert standings[0].p_order == (2 + 0.5) / 4  # 0.625
    assert standings[1].p_order == 1.0


def test_pairs_are_compared_only_within_a_group(crafted):
    b, e = crafted.bootstrap, crafted.entry
    standings = rank(
        [
            e("ranked", 0.5, mmlu=0.4, boot=b([0.5, 0.5])),
            e("mention1", 0.75, mmlu=0.3, boot=b([0.7, 0.8])),
            e("mention2", 0.7, mmlu=0.3, boot=b([0.75, 0.6])),
        ],
        mmlu_threshold=0.371,
    )
    assert [s.entry.name for s in standings] == ["ranked", "mention1", "mention2"]
    assert standings[0].p_order is None and standings[0].pair_note is None  # last of its group
    assert standings[1].p_order == 0.5  # one replicate above, one below


@pytest.mark.parametrize(
    ("lower_boot", "note"),
    [
        ({"seed": 1}, "not paired: different bootstrap seeds (0 vs 1)"),
        ({"resampled": "sha256:other"}, "not paired: scored on different items"),
        ({"resampled": None}, "not paired: no resampling digest in low"),
        ({"final_score_replicates": None}, "no bootstrap replicates in low"),
    ],
)
def test_unpaired_results_get_intervals_but_no_probability(crafted, lower_boot, note):
    b, e = crafted.bootstrap, crafted.entry
    low_boot = {**b([0.5, 0.4], [0.4, 0.5]), **lower_boot}
    standings = rank(
        [e("high", 0.6, boot=b([0.6, 0.7], [0.6, 0.7])), e("low", 0.45, boot=low_boot)]
    )
    assert standings[0].p_order is None
    assert standings[0].pair_note.startswith(note)
    assert standings[0].interval == (0.6, 0.7) and standings[1].interval == (0.4, 0.5)


def test_other_replicate_counts_and_ties_are_not_paired(crafted):
    b, e = crafted.bootstrap, crafted.entry
    standings = rank([e("x", 0.6, boot=b([0.6, 0.7])), e("y", 0.5, boot=b([0.5, 0.4, 0.5]))])
    assert standings[0].pair_note == "not paired: different bootstrap replicate counts (2 vs 3)"
    tied = rank([e("p", 0.6, boot=b([0.6, 0.7])), e("q", 0.6, boot=b([0.5, 0.4]))])
    assert (tied[0].p_order, tied[0].pair_note) == (None, "tied: same final score")
    plain = rank([e("u", 0.6), e("v", 0.5, boot=b([0.5, 0.4]))])
    assert plain[0].pair_note == "no bootstrap replicates in u" and plain[0].interval is None


def test_the_interval_is_the_stored_one_at_95_else_from_the_replicates(crafted):
    b, s = crafted.bootstrap, crafted.scores
    stored = s(0.5, 0.5, 0.5, boot=b([0.1, 0.2, 0.3, 0.4, 0.5], [0.11, 0.49]))
    assert final_interval(stored) == (0.11, 0.49)
    replicates = [0.1, 0.2, 0.3, 0.4, 0.5]
    at_90 = s(0.5, 0.5, 0.5, boot=b(replicates, [0.12, 0.48], level=0.9))
    # numpy's linear percentile at 2.5 and 97.5 over 5 values: 0.1 + 0.1 * 0.1 and 0.5 - 0.01
    assert final_interval(at_90) == pytest.approx((0.11, 0.49))
    assert final_interval(s(0.5, 0.5, 0.5)) is None
    assert final_interval(s(0.5, 0.5, 0.5, boot=b(None, None, level=0.9, count=10))) is None


def test_percentile_matches_numpy():
    values = random.Random(3).choices([i / 1000 for i in range(1000)], k=101)
    for q in (0.0, 2.5, 50.0, 97.5, 100.0):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


# ----------------------------------------------------------------- the real bootstrap path


def _submission(item_scores: dict[str, float] | None = None, mmlu_right: int = 40):
    """Items, MIA rows and MMLU answers as the phases leave them (crafted numbers)."""
    rng = random.Random(0)
    results = []
    for split in SPLITS:
        for task in TASKS:
            for number in range(6):
                for kind, suffix in (("sc", "sc1"), ("qa", "qa0")):
                    item_id = f"{split}-{task}-{number}{suffix}"
                    score = rng.random() if kind == "sc" else float(rng.random() < 0.5)
                    score = (item_scores or {}).get(item_id, score)
                    results.append(
                        {"id": item_id, "split": split, "task": task, "kind": kind, "score": score}
                    )
    mia_rows = []
    for number in range(20):
        member = number < 10
        nll = rng.gauss(1.0 if member else 1.2, 0.2)
        mia_rows.append(
            {"id": f"doc{number}", "member": member, "nll": nll, **{a: -nll for a in ATTACKS}}
        )
    correct = [i < mmlu_right for i in range(100)]
    mmlu = {"accuracy": sum(correct) / 100, "questions": 100, "subjects": 1, "correct": correct}
    return results, mia_rows, mmlu


def _bootstrap(settings: EvalSettings, **changes) -> dict:
    return beyond_official(*_submission(**changes), settings)["bootstrap"]


def test_the_scores_carry_replicates_whose_interval_is_the_stored_one():
    settings = EvalSettings(bootstrap=400)
    results, mia_rows, mmlu = _submission()
    extra = beyond_official(results, mia_rows, mmlu, settings)
    boot = extra["bootstrap"]
    replicates = boot["final_score_replicates"]
    assert len(replicates) == boot["replicates"] == 400 and boot["seed"] == 0
    assert all(round(v, 6) == v for v in replicates)
    lo, hi = np.percentile(replicates, [2.5, 97.5])
    assert lo == pytest.approx(boot["final_score"][0], abs=1e-6)
    assert hi == pytest.approx(boot["final_score"][1], abs=1e-6)
    # and the leaderboard reads that interval from the scores.json dict
    record = scores_record(results, {"auc": 0.6, "score": 0.8}, mmlu, settings, extra, None)
    assert final_interval(record) == tuple(boot["final_score"])


def test_the_digest_names_what_was_resampled():
    settings = EvalSettings(bootstrap=50)
    base = _bootstrap(settings)["resampled"]
    assert base.startswith("sha256:") and len(base) == 7 + 64
    assert _bootstrap(settings, mmlu_right=70)["resampled"] == base  # other scores, same items
    results, mia_rows, mmlu = _submission()
    renamed = [{**r, "id": "x" + r["id"]} if i == 0 else r for i, r in enumerate(results)]
    assert beyond_official(renamed, mia_rows, mmlu, settings)["bootstrap"]["resampled"] != base
    fewer = {**mmlu, "correct": mmlu["correct"][:-1]}
    assert beyond_official(results, mia_rows, fewer, settings)["bootstrap"]["resampled"] != base


def test_paired_replicates_move_together():
    """A submission better on one retain item and one MMLU question is at least as good in
    every replicate (the same items are drawn for both): independent resamples could not
    promise that."""
    settings = EvalSettings(bootstrap=300)
    worse = _bootstrap(settings, item_scores={"retain-Task1-0sc1": 0.0}, mmlu_right=40)
    better = _bootstrap(settings, item_scores={"retain-Task1-0sc1": 1.0}, mmlu_right=41)
    assert worse["resampled"] == better["resampled"]
    w, b = worse["final_score_replicates"], better["final_score_replicates"]
    assert all(x >= y for x, y in zip(b, w))  # never below
    ties = sum(x == y for x, y in zip(b, w))  # neither changed item drawn: ~(5/6)^6 · 0.99^100
    assert 0 < ties < 100
    assert order_probability(b, w) == 1 - 0.5 * ties / 300
