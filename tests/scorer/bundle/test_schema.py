"""The v2 schema check: what the unpacker accepts passes; each mistake it refuses is named."""

from __future__ import annotations

import copy

import pytest

from scorer.bundle.columns import columns, flat_scores, leaderboard
from scorer.bundle.schema import problems, program_problems
from scorer.errors import LumeError

FILES = {
    "logo.png",
    "pages/terms.md",
    "pages/overview.md",
    "ingestion_program/metadata.yaml",
    "scoring_program/metadata.yaml",
    "input_data/lume-task.json",
    "reference_data/lume-task.json",
}
GOOD = {
    "version": 2,
    "title": "A competition",
    "image": "logo.png",
    "terms": "pages/terms.md",
    "pages": [{"title": "Overview", "file": "pages/overview.md"}],
    "tasks": [
        {
            "index": 0,
            "name": "t",
            "ingestion_program": "ingestion_program/",
            "scoring_program": "scoring_program/",
            "input_data": "input_data/",
            "reference_data": "reference_data/",
        }
    ],
    "phases": [{"name": "p", "start": "2026-01-01", "execution_time_limit": 900, "tasks": [0]}],
    "leaderboards": [leaderboard(gated=True)],
}


def changed(**edits) -> dict:
    spec = copy.deepcopy(GOOD)
    for key, value in edits.items():
        if value is None:
            del spec[key]
        else:
            spec[key] = value
    return spec


def test_a_bundle_the_unpacker_accepts_has_no_problem():
    assert problems(GOOD, FILES) == []
    assert problems(GOOD) == []  # without the file list, only the yaml is checked


def test_the_documentations_leaderboard_key_and_missing_version_are_caught():
    # the docs' example: `leaderboard:` (never read by v2.py) and no `version: 2`
    spec = changed(version=None, leaderboards=None, leaderboard=GOOD["leaderboards"])
    found = problems(spec, FILES)
    assert found == [
        "version: must be 2 (without it the bundle is read as version 1)",
        "leaderboards: missing (the key is 'leaderboards', not 'leaderboard')",
    ]


@pytest.mark.parametrize(
    ("edits", "problem"),
    [
        ({"version": "1.5"}, "version: must be 2"),
        ({"title": None}, "title: missing"),
        ({"image": None}, "image: must name a logo file in the bundle"),
        ({"image": "logo.jpg"}, "image: 'logo.jpg' is not in the bundle"),
        ({"terms": None}, "terms: must name a file in the bundle"),
        ({"pages": None}, "pages: must be a list"),
        ({"pages": [{"file": "pages/overview.md"}]}, "pages[0]: needs a title"),
        ({"tasks": []}, "tasks: no tasks listed"),
        ({"tasks": [{"name": "t", "scoring_program": "scoring_program/"}]}, "tasks[0]: needs an"),
        ({"tasks": [{"index": 0, "input_data": "input_data/"}]}, "has no scoring_program"),
        (
            {"tasks": [{"index": 0, "scoring_program": "scoring.zip"}]},
            "tasks[0].scoring_program: 'scoring.zip' is not in the bundle",
        ),
        ({"phases": None}, "phases: none found"),
        ({"phases": [{"name": "p", "tasks": [0]}]}, "phases[0]: needs a start date"),
        ({"phases": [{"name": "p", "start": "2026-01-01", "tasks": [3]}]}, "task index 3"),
        (
            {"phases": [{"name": "p", "start": "2026-01-01", "tasks": [0]}] * 2},
            "phases[0]: needs an end, since another phase follows it",
        ),
        (
            {
                "phases": [
                    {"name": "p", "start": "2026-01-01", "tasks": [0], "execution_time_limit": 0}
                ]
            },  # fmt: skip
            "execution_time_limit must be a positive whole number",
        ),
        (
            {
                "phases": [
                    {
                        "name": "p",
                        "start": "2026-01-01",
                        "tasks": [0],
                        "execution_time_limit_ms": 900000,
                    }
                ]
            },  # fmt: skip
            "execution_time_limit_ms is not read",
        ),
    ],
)
def test_each_refusal_of_the_unpacker_is_named(edits, problem):
    found = problems(changed(**edits), FILES)
    assert any(problem in line for line in found), found


def test_leaderboard_columns_are_checked_as_the_serializer_does():
    board = leaderboard(gated=False)
    board["columns"][1]["key"] = board["columns"][0]["key"]
    board["columns"][2]["index"] = 0
    board["columns"][3]["sorting"] = "up"
    board["columns"][4]["title"] = "x" * 37
    found = problems(changed(leaderboards=[board]), FILES)
    assert found == [
        "leaderboards[0].columns[1]: duplicate column key 'final_score'",
        "leaderboards[0].columns[2]: duplicate column index 0",
        "leaderboards[0].columns[3]: sorting must be desc or asc",
        "leaderboards[0].columns[4]: title must be text of at most 36 characters",
    ]
    assert problems(changed(leaderboards=[{**board, "columns": []}]))[-1].endswith(
        "a leaderboard needs at least one column"
    )


def test_a_program_needs_a_command():
    assert program_problems("scoring_program", {"command": "python3 x.py"}) == []
    assert program_problems("scoring_program", {"description": "x"}) == [
        "scoring_program/metadata.yaml: needs a command"
    ]


def test_the_flat_scores_are_exactly_the_columns_and_come_from_scores_json():
    parts = {t: {"regurgitation": 0.5, "knowledge": 0.25} for t in ("Task1", "Task2", "Task3")}
    scores = {
        "final_score": 0.6,
        "task_aggregate": 0.4,
        "mia_score": 0.8,
        "mia_auc": 0.4,
        "mmlu": 0.6,
        "mmlu_passed": True,
        "forget": parts,
        "retain": {t: {"regurgitation": 0.9, "knowledge": 0.75} for t in parts},
    }
    for gated in (True, False):
        flat = flat_scores(scores, {"wall_seconds": 12.5}, gated)
        assert list(flat) == [c.key for c in columns(gated)]
        assert [c["key"] for c in leaderboard(gated)["columns"]] == list(flat)
    flat = flat_scores(scores, {"wall_seconds": 12.5}, gated=True)
    assert flat["final_score"] == 0.6 and flat["mmlu_passed"] == 1.0
    assert flat["forget_task2_knowledge"] == 0.25 and flat["retain_task3_regurgitation"] == 0.9
    assert flat["wall_seconds"] == 12.5
    assert "mmlu_passed" not in flat_scores(scores, {"wall_seconds": 1}, gated=False)
    with pytest.raises(LumeError, match="scores.json: mia_score is None, not a number"):
        flat_scores({**scores, "mia_score": None}, {"wall_seconds": 1}, gated=False)
    assert columns(True)[0].key == "final_score" and columns(True)[0].sorting == "desc"
