"""The beyond room's edges that mutation testing found unguarded (``python -m tools.mutate
beyond``): the resampling digest's exact construction, and each refusal of
``bootstrap_intervals`` at its boundary, with its message."""

from __future__ import annotations

import hashlib
import json

import pytest

from scorer.beyond.bootstrap import SCHEME, bootstrap_intervals, resampling_digest
from scorer.contract import SPLITS, TASKS
from scorer.official.score import ItemResult

ITEMS = [
    ItemResult(split, task, kind, score)
    for split in SPLITS
    for task in TASKS
    for kind, score in (("sc", 0.5), ("sc", 0.25), ("qa", 1.0), ("qa", 0.0))
]
AUC_EMPTY = "^the AUC needs at least one member and one nonmember score$"
BOTH = "^pass both MIA member and nonmember scores, or neither$"
KEYS = [("forget", "Task1", "sc", "id-1"), ("retain", "Task2", "qa", "Zoë-2")]


def test_the_digest_is_the_sha256_of_the_documented_json():
    payload = {
        "scheme": SCHEME,
        "items": [list(k) for k in KEYS],
        "mia_member": ["m1"],
        "mia_nonmember": ["n1", "n2"],
        "mmlu_questions": 7,
    }
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    expected = "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()
    assert resampling_digest(KEYS, ["m1"], ["n1", "n2"], 7) == expected


def test_the_digest_follows_every_input_and_tells_none_from_empty():
    base = resampling_digest(KEYS, ["m1"], ["n1"], 7)
    others = [
        resampling_digest(KEYS[::-1], ["m1"], ["n1"], 7),
        resampling_digest(KEYS, ["n1"], ["m1"], 7),
        resampling_digest(KEYS, None, None, 7),
        resampling_digest(KEYS, [], [], 7),
        resampling_digest(KEYS, ["m1"], ["n1"], None),
        resampling_digest(KEYS, ["m1"], None, 7),
        resampling_digest(KEYS, None, ["n1"], 7),
    ]
    assert len({base, *others}) == len(others) + 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicates": 0}, "^replicates must be at least 1$"),
        ({"level": 1.0}, r"^level must be in \(0, 1\), got 1.0$"),
        ({"level": 0.0}, r"^level must be in \(0, 1\), got 0.0$"),
        ({"member": [], "nonmember": [-1.0]}, AUC_EMPTY),
        ({"member": [-1.0], "nonmember": []}, AUC_EMPTY),
        ({"member": [-1.0], "nonmember": None}, BOTH),
        ({"mmlu": []}, "^MMLU accuracy needs at least one question$"),
    ],
)  # fmt: skip
def test_each_refusal_at_its_boundary(kwargs, message):
    kwargs = dict(kwargs)  # the parameters are shared by every run of the test
    member = kwargs.pop("member", [-1.0, -2.0])
    nonmember = kwargs.pop("nonmember", [-1.5])
    mmlu = kwargs.pop("mmlu", [True, False])
    with pytest.raises(ValueError, match=message):
        bootstrap_intervals(ITEMS, member, nonmember, mmlu, **kwargs)


def test_the_smallest_accepted_inputs():
    out = bootstrap_intervals(ITEMS, [-1.0], [-2.0], [True], replicates=1, level=0.5)
    assert out["mia_auc"] == [1.0, 1.0]
    assert out["mmlu"] == [1.0, 1.0]
    assert len(out["final_score_replicates"]) == 1
