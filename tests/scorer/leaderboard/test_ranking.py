"""Ranking: competition ranks, the MMLU gate (none on 1B), unscored runs last, any order."""

from __future__ import annotations

import itertools
import random

from scorer.leaderboard import (
    BELOW_THRESHOLD,
    INCOMPLETE,
    RANKED,
    UNSCORED,
    Entry,
    rank,
)


def test_ties_share_a_rank_and_are_ordered_by_name(crafted):
    e = crafted.entry
    standings = rank([e("d", 0.5), e("c", 0.6), e("a", 0.7), e("b", 0.6)])
    assert [(s.rank, s.entry.name) for s in standings] == [(1, "a"), (2, "b"), (2, "c"), (4, "d")]
    assert {s.group for s in standings} == {RANKED}


def test_all_tied_entries_share_rank_one(crafted):
    standings = rank([crafted.entry(n, 0.6) for n in "zyx"])
    assert [(s.rank, s.entry.name) for s in standings] == [(1, "x"), (1, "y"), (1, "z")]


def test_entries_below_the_threshold_are_honourable_mentions(crafted):
    e = crafted.entry
    entries = [
        e("best-but-broken", 0.75, mmlu=0.30),
        e("good", 0.7, mmlu=0.45),
        e("fine", 0.6, mmlu=0.40),
        e("also-broken", 0.72, mmlu=0.20),
    ]
    standings = rank(entries, mmlu_threshold=0.371)
    assert [(s.rank, s.entry.name, s.group) for s in standings] == [
        (1, "good", RANKED),
        (2, "fine", RANKED),  # no gap left by the flagged entries
        (None, "best-but-broken", BELOW_THRESHOLD),  # apart, by final score
        (None, "also-broken", BELOW_THRESHOLD),
    ]
    assert standings[2].flags == ("MMLU below 0.371",)
    assert standings[2].mmlu_passed is False and standings[0].mmlu_passed is True


def test_threshold_at_exactly_the_value_passes(crafted):
    standings = rank([crafted.entry("edge", 0.6, mmlu=0.371)], mmlu_threshold=0.371)
    assert standings[0].group == RANKED


def test_each_result_uses_its_own_threshold_unless_overridden(crafted):
    e = crafted.entry
    entries = [e("low", 0.7, mmlu=0.3, threshold=0.371), e("ok", 0.5, mmlu=0.4)]
    own = rank(entries)
    assert [(s.entry.name, s.group) for s in own] == [("ok", RANKED), ("low", BELOW_THRESHOLD)]
    assert own[1].mmlu_threshold == 0.371
    overridden = rank(entries, mmlu_threshold=0.25)
    assert [(s.rank, s.entry.name) for s in overridden] == [(1, "low"), (2, "ok")]


def test_no_gate_ignores_every_threshold_as_on_the_1b_track(crafted):
    e = crafted.entry
    entries = [e("low", 0.6, mmlu=0.2, threshold=0.371), e("ok", 0.5, mmlu=0.4, threshold=0.371)]
    standings = rank(entries, mmlu_threshold=0.371, gate=False)
    assert [(s.rank, s.entry.name, s.group) for s in standings] == [
        (1, "low", RANKED),
        (2, "ok", RANKED),
    ]
    assert all(s.mmlu_threshold is None and s.mmlu_passed is None for s in standings)
    assert standings[0].flags == ()


def test_without_any_threshold_nothing_is_filtered(crafted):
    standings = rank([crafted.entry("tiny-mmlu", 0.4, mmlu=0.01), crafted.entry("b", 0.3)])
    assert [s.rank for s in standings] == [1, 2]
    assert standings[0].mmlu_passed is None and standings[0].flags == ()


def test_unscored_runs_are_listed_last_with_their_status(crafted):
    s = crafted.scores
    entries = [
        Entry("crashed", "x", "failed", None, reason="unlearn() raised ValueError: boom"),
        Entry("zz-ok", "x", "ok", s(0.1, 0.1, 0.1)),
        Entry("big", "x", "oom", None),
        Entry("partial", "x", "ok", s(0.9, None, 0.9)),
        Entry("slow", "x", "timeout", s(0.5, 0.5, 0.5)),
    ]
    standings = rank(entries)
    assert [(s.rank, s.entry.name, s.group) for s in standings] == [
        (1, "slow", RANKED),
        (2, "zz-ok", RANKED),
        (None, "partial", INCOMPLETE),
        (None, "big", UNSCORED),
        (None, "crashed", UNSCORED),
    ]
    assert standings[0].flags == ("timed out",)
    assert standings[3].flags == ("oom",)
    assert standings[4].flags == ("failed", "unlearn() raised ValueError: boom")


def test_the_order_of_the_results_does_not_matter(crafted):
    e, s = crafted.entry, crafted.scores
    entries = [
        e("a", 0.6),
        e("b", 0.6),
        e("c", 0.7, mmlu=0.2, threshold=0.371),
        Entry("d", "x", "failed", None),
        Entry("e", "x", "ok", s(0.4, None, 0.4)),
    ]
    first = rank(entries)
    for permutation in itertools.permutations(entries):
        assert rank(list(permutation)) == first


def _stored(crafted, name: str, final: float, mmlu: float = 0.5) -> Entry:
    """A scored entry whose stored final score is exactly ``final`` (all its digits)."""
    scores = crafted.scores(0.5, 0.5, mmlu, threshold=0.371)
    return Entry(name, name, "ok", {**scores, "final_score": final})


def test_every_group_in_its_place_and_ranks_on_the_stored_scores(crafted):
    """Ranked, then honourable mentions, then incomplete, then unscored; names chosen so
    that no order by name (or by group name) gives the same list. Scores that differ past
    any displayed digit rank apart; only equal stored scores share a rank."""
    s = crafted.scores
    entries = [
        _stored(crafted, "alpha", 0.7000000001),  # equal to the ties when rounded
        _stored(crafted, "nu", 0.7000000002),
        _stored(crafted, "mu", 0.7000000002),
        _stored(crafted, "zeta", 0.7000000004),
        _stored(crafted, "beta", 0.69999999999),
        _stored(crafted, "aa-second", 0.9, mmlu=0.30),  # below 0.371, above every ranked one
        _stored(crafted, "zz-best", 0.9000000001, mmlu=0.20),
        Entry("z-no-mia", "x", "ok", s(0.8, None, 0.2, threshold=0.371)),
        Entry("b-no-mmlu", "x", "ok", s(0.9, 0.9, None, threshold=0.371)),
        Entry("a-crashed", "x", "failed", None, reason="unlearn() raised"),
        Entry("0-oom", "x", "oom", None),
    ]
    expected = [
        (1, "zeta", RANKED),
        (2, "mu", RANKED),
        (2, "nu", RANKED),
        (4, "alpha", RANKED),
        (5, "beta", RANKED),
        (None, "zz-best", BELOW_THRESHOLD),
        (None, "aa-second", BELOW_THRESHOLD),
        (None, "b-no-mmlu", INCOMPLETE),
        (None, "z-no-mia", INCOMPLETE),  # its MMLU is low too: incomplete first
        (None, "0-oom", UNSCORED),
        (None, "a-crashed", UNSCORED),
    ]
    standings = rank(entries)
    assert [(s.rank, s.entry.name, s.group) for s in standings] == expected
    # adjacent pairs: equal stored scores are a tie; a gap past the displayed digits is not
    notes = {s.entry.name: s.pair_note for s in standings}
    assert notes["mu"] == "tied: same final score"
    assert notes["nu"] == "no bootstrap replicates in nu and alpha"  # not a tie
    assert notes["zeta"] == "no bootstrap replicates in zeta and mu"
    assert notes["zz-best"] == "no bootstrap replicates in zz-best and aa-second"
    assert standings[8].flags == ("MMLU below 0.371", "incomplete: no MIA or MMLU")
    assert standings[10].flags == ("failed", "unlearn() raised")
    rng = random.Random(0)
    for _ in range(20):
        shuffled = rng.sample(entries, len(entries))
        assert [(s.rank, s.entry.name, s.group) for s in rank(shuffled)] == expected
