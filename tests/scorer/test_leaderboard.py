"""The leaderboard: competition ranks, MMLU threshold, unscored runs, bad files, outputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scorer.cli.app import app
from scorer.errors import LumeError
from scorer.leaderboard import (
    BELOW_THRESHOLD,
    INCOMPLETE,
    RANKED,
    UNSCORED,
    Entry,
    format_duration,
    load_result,
    load_results,
    rank,
    to_csv,
    to_markdown,
)


def _scores(aggregate: float, mia: float | None, mmlu: float | None, threshold=None) -> dict:
    final = None if mia is None or mmlu is None else (aggregate + mia + mmlu) / 3
    return {
        "final_score": final,
        "task_aggregate": aggregate,
        "mia_auc": None,
        "mia_score": mia,
        "mmlu": mmlu,
        "mmlu_threshold": threshold,
    }


def _entry(name: str, final: float, mmlu: float = 0.5, threshold=None) -> Entry:
    # task aggregate = MIA score, chosen so that the final score is `final`
    other = (3 * final - mmlu) / 2
    assert 0 <= other <= 1
    scores = _scores(other, other, mmlu, threshold)
    return Entry(name=name, source=name, status="ok", scores=scores)


def _write_scores(directory: Path, scores: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scores.json").write_text(json.dumps(scores))
    return directory


def _write_run(directory: Path, status: str, scored: bool, scores=None, **extra) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    run = {
        "submission": "sub.py",
        "status": status,
        "scored": scored,
        "wall_seconds": extra.pop("wall_seconds", 61.0),
        "peak_memory_bytes": extra.pop("peak_memory_bytes", 2**30),
        "scores": scores,
        **extra,
    }
    (directory / "run.json").write_text(json.dumps(run))
    return directory


# ----------------------------------------------------------------- ranking


def test_ties_share_a_rank_and_are_ordered_by_name():
    entries = [_entry("d", 0.5), _entry("c", 0.6), _entry("a", 0.7), _entry("b", 0.6)]
    standings = rank(entries)
    assert [(s.rank, s.entry.name) for s in standings] == [(1, "a"), (2, "b"), (2, "c"), (4, "d")]
    assert {s.group for s in standings} == {RANKED}


def test_all_tied_entries_share_rank_one():
    standings = rank([_entry(n, 0.6) for n in "zyx"])
    assert [(s.rank, s.entry.name) for s in standings] == [(1, "x"), (1, "y"), (1, "z")]


def test_entries_below_the_threshold_are_flagged_and_unranked():
    entries = [
        _entry("best-but-broken", 0.75, mmlu=0.30),
        _entry("good", 0.7, mmlu=0.45),
        _entry("fine", 0.6, mmlu=0.40),
        _entry("also-broken", 0.72, mmlu=0.20),
    ]
    standings = rank(entries, mmlu_threshold=0.371)
    assert [(s.rank, s.entry.name, s.group) for s in standings] == [
        (1, "good", RANKED),
        (2, "fine", RANKED),  # no gap left by the flagged entries
        (None, "best-but-broken", BELOW_THRESHOLD),
        (None, "also-broken", BELOW_THRESHOLD),
    ]
    assert standings[2].flags == ("MMLU below 0.371",)
    assert standings[2].mmlu_passed is False and standings[0].mmlu_passed is True


def test_threshold_at_exactly_the_value_passes():
    standings = rank([_entry("edge", 0.6, mmlu=0.371)], mmlu_threshold=0.371)
    assert standings[0].group == RANKED


def test_each_result_uses_its_own_threshold_unless_overridden():
    entries = [_entry("low", 0.7, mmlu=0.3, threshold=0.371), _entry("ok", 0.5, mmlu=0.4)]
    own = rank(entries)
    assert [(s.entry.name, s.group) for s in own] == [("ok", RANKED), ("low", BELOW_THRESHOLD)]
    assert own[1].mmlu_threshold == 0.371
    overridden = rank(entries, mmlu_threshold=0.25)
    assert [(s.rank, s.entry.name) for s in overridden] == [(1, "low"), (2, "ok")]


def test_without_any_threshold_nothing_is_filtered():
    standings = rank([_entry("tiny-mmlu", 0.4, mmlu=0.01), _entry("b", 0.3)])
    assert [s.rank for s in standings] == [1, 2]
    assert standings[0].mmlu_passed is None and standings[0].flags == ()


def test_unscored_runs_are_listed_last_with_their_status():
    entries = [
        Entry("crashed", "x", "failed", None),
        Entry("zz-ok", "x", "ok", _scores(0.1, 0.1, 0.1)),
        Entry("big", "x", "oom", None),
        Entry("partial", "x", "ok", _scores(0.9, None, 0.9)),
        Entry("slow", "x", "timeout", _scores(0.5, 0.5, 0.5)),
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
    assert standings[3].flags == ("oom",) and standings[4].flags == ("failed",)


# ----------------------------------------------------------------- loading


def test_load_scores_file_directory_and_run(tmp_path: Path):
    a = _write_scores(tmp_path / "alpha", _scores(0.8, 0.6, 0.4))
    by_file = load_result(a / "scores.json")
    by_dir = load_result(a)
    assert by_file.name == by_dir.name == "alpha"
    assert by_file.scores["final_score"] == pytest.approx(0.6)
    run = load_result(_write_run(tmp_path / "beta", "timeout", True, _scores(0.5, 0.5, 0.5)))
    assert (run.name, run.status, run.wall_seconds, run.peak_memory_bytes) == (
        "beta",
        "timeout",
        61.0,
        2**30,
    )
    assert run.scores["final_score"] == pytest.approx(0.5)


def test_run_scores_can_live_in_evaluation_beside_it(tmp_path: Path):
    run_dir = _write_run(tmp_path / "gamma", "ok", True, None)
    _write_scores(run_dir / "evaluation", _scores(0.3, 0.6, 0.9))
    entry = load_result(run_dir)
    assert entry.scores["final_score"] == pytest.approx(0.6)


def test_runs_not_scored_keep_their_status(tmp_path: Path):
    failed = load_result(_write_run(tmp_path / "f", "failed", False))
    invalid = load_result(_write_run(tmp_path / "i", "invalid", False))
    unevaluated = load_result(_write_run(tmp_path / "u", "ok", False))
    assert (failed.status, invalid.status, unevaluated.status) == (
        "failed",
        "invalid",
        "not scored",
    )
    assert failed.scores is None and unevaluated.scores is None


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"final_score": 0.5, "task_aggregate": 0.5}), "missing score key(s)"),
        (json.dumps({**_scores(0.5, 0.5, 0.5), "mmlu": "high"}), "field 'mmlu'"),
        (json.dumps({**_scores(0.5, 0.5, 0.5), "final_score": 0.9}), "not the mean"),
        (json.dumps({**_scores(0.5, 0.5, 0.5), "mia_auc": 1.5}), "field 'mia_auc' is 1.5"),
        (
            json.dumps({**_scores(0.5, 0.5, 0.5), "task_aggregate": None}),
            "'task_aggregate' is null",
        ),
    ],
)
def test_bad_scores_files_name_the_file(tmp_path: Path, content: str, needle: str):
    path = tmp_path / "bad" / "scores.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(LumeError, match="scores.json") as err:
        load_result(path)
    assert needle in str(err.value)


def test_bad_run_files_and_paths(tmp_path: Path):
    with pytest.raises(LumeError, match="field 'status'"):
        load_result(_write_run(tmp_path / "r1", "exploded", False))
    with pytest.raises(LumeError, match="holds no scores"):
        load_result(_write_run(tmp_path / "r2", "ok", True, None))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LumeError, match="neither run.json"):
        load_result(tmp_path / "empty")
    with pytest.raises(LumeError, match="no such file"):
        load_result(tmp_path / "missing.json")


def test_two_results_with_the_same_name_are_refused(tmp_path: Path):
    one = _write_scores(tmp_path / "a" / "sub", _scores(0.5, 0.5, 0.5))
    two = _write_scores(tmp_path / "b" / "sub", _scores(0.5, 0.5, 0.5))
    with pytest.raises(LumeError, match="two results are named 'sub'"):
        load_results([one, two])


# ----------------------------------------------------------------- rendering


def _mixed_standings():
    return rank(
        [
            Entry("npo|v2", "x", "ok", _scores(0.8, 0.7, 0.6), wall_seconds=3725.0),
            Entry("ga", "x", "ok", _scores(0.5, 0.5, 0.2)),
            Entry("dead", "x", "oom", None, wall_seconds=12.25),
        ],
        mmlu_threshold=0.371,
    )


def test_markdown_table():
    assert to_markdown(_mixed_standings()) == (
        "| rank | name | final | task agg. | MIA score | MMLU | flags | wall time |\n"
        "|---:|---|---:|---:|---:|---:|---|---:|\n"
        "| 1 | npo\\|v2 | 0.7000 | 0.8000 | 0.7000 | 0.6000 |  | 1h02m05s |\n"
        "|  | ga | 0.4000 | 0.5000 | 0.5000 | 0.2000 | MMLU below 0.371 |  |\n"
        "|  | dead |  |  |  |  | oom | 12.2s |\n"
    )


def test_csv_has_full_precision_and_empty_unknowns():
    rows = list(csv.DictReader(io.StringIO(to_csv(_mixed_standings()))))
    assert [r["name"] for r in rows] == ["npo|v2", "ga", "dead"]
    assert rows[0]["rank"] == "1" and rows[1]["rank"] == ""
    assert float(rows[0]["final_score"]) == (0.8 + 0.7 + 0.6) / 3
    assert rows[1]["mmlu_passed"] == "False" and rows[1]["flags"] == "MMLU below 0.371"
    assert rows[2]["status"] == "oom" and rows[2]["final_score"] == ""
    assert rows[2]["wall_seconds"] == "12.25"


def test_format_duration():
    assert [format_duration(s) for s in (None, 5.04, 65, 3600, 7322.6)] == [
        "",
        "5.0s",
        "1m05s",
        "1h00m00s",
        "2h02m03s",
    ]


# ----------------------------------------------------------------- command line


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    _write_scores(tmp_path / "alpha", _scores(0.8, 0.6, 0.4, threshold=0.371))
    _write_scores(tmp_path / "bravo", _scores(0.9, 0.9, 0.3, threshold=0.371))
    _write_run(tmp_path / "charlie", "ok", True, _scores(0.8, 0.6, 0.4, threshold=0.371))
    _write_run(tmp_path / "delta", "failed", False)
    return tmp_path


def test_cli_json(results_dir: Path):
    paths = [str(results_dir / n) for n in ("delta", "bravo", "alpha", "charlie")]
    result = CliRunner().invoke(app, ["leaderboard", *paths, "--json"])
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert board["mmlu_threshold"] is None
    got = [(e["rank"], e["name"], e["group"], e["status"]) for e in board["entries"]]
    assert got == [
        (1, "alpha", "ranked", "ok"),
        (1, "charlie", "ranked", "ok"),
        (None, "bravo", "below_threshold", "ok"),
        (None, "delta", "unscored", "failed"),
    ]
    assert board["entries"][1]["wall_seconds"] == 61.0
    assert board["entries"][0]["final_score"] == pytest.approx(0.6)


def test_cli_threshold_option_and_files(results_dir: Path):
    md, table = results_dir / "out" / "board.md", results_dir / "out" / "board.csv"
    args = ["leaderboard", str(results_dir / "alpha"), str(results_dir / "bravo" / "scores.json")]
    result = CliRunner().invoke(
        app, [*args, "--mmlu-threshold", "0.25", "--markdown", str(md), "--csv", str(table)]
    )
    assert result.exit_code == 0, result.output
    assert "bravo" in result.stdout and "alpha" in result.stdout
    assert md.read_text().splitlines()[2].startswith("| 1 | bravo | 0.7000 |")
    rows = list(csv.DictReader(table.open()))
    assert [(r["rank"], r["name"]) for r in rows] == [("1", "bravo"), ("2", "alpha")]
    assert not list((results_dir / "out").glob(".*.tmp"))


def test_cli_bad_file_is_one_line_exit_2(tmp_path: Path):
    bad = tmp_path / "broken" / "scores.json"
    bad.parent.mkdir()
    bad.write_text("{oops")
    result = CliRunner().invoke(app, ["leaderboard", str(bad), "--markdown", str(tmp_path / "m")])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "scores.json" in lines[0] and "not valid JSON" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_track_gives_the_leaderboard_its_threshold(tmp_path: Path):
    low = _write_scores(tmp_path / "low", _scores(0.9, 0.9, 0.30))
    high = _write_scores(tmp_path / "high", _scores(0.5, 0.5, 0.50))

    def board(*options: str) -> list[dict]:
        result = CliRunner().invoke(app, ["leaderboard", str(low), str(high), "--json", *options])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["entries"]

    # the 7B track filters at 0.371: "low" has the better final score but is left out
    seven = {e["name"]: e for e in board("--track", "7B")}
    assert seven["high"]["rank"] == 1 and seven["low"]["rank"] is None
    # the 1B track is not filtered: "low" ranks first
    one = {e["name"]: e for e in board("--track", "1B")}
    assert one["low"]["rank"] == 1 and one["high"]["rank"] == 2
    # an explicit threshold wins over the track's
    explicit = {e["name"]: e for e in board("--track", "7B", "--mmlu-threshold", "0.2")}
    assert explicit["low"]["rank"] == 1
