"""Loading a result for the report: the three layouts, and bad files named in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scorer.errors import LumeError
from scorer.report.loading import load_result, load_results, unique_names


def test_an_evaluate_output_loads_with_its_items_and_mia_rows(tmp_path: Path, write_result):
    scores = write_result(tmp_path / "npo")
    result = load_result(tmp_path / "npo")
    assert result.name == "npo" and result.scores == scores
    assert len(result.items) == 36 and len(result.mia) == 24
    assert result.run is None and result.steps == ()


def test_a_run_output_reads_run_json_and_evaluation(tmp_path: Path, write_result, write_run):
    write_result(tmp_path / "run" / "evaluation")
    write_run(tmp_path / "run", wall_seconds=42.0)
    result = load_result(tmp_path / "run")
    assert result.source == tmp_path / "run" / "evaluation"
    assert result.run["wall_seconds"] == 42.0 and len(result.items) == 36


def test_checkpoints_are_ordered_by_step_and_the_last_is_detailed(tmp_path, write_result):
    leaks = {"checkpoint-500": 0.5, "step_1000": 0.1, "checkpoint-20": 0.9}
    for k, (name, leak) in enumerate(leaks.items()):
        write_result(tmp_path / "series" / name, seed=k, leak=leak)
    write_result(tmp_path / "series" / "run-7" / "evaluation", seed=9)  # a run's layout
    (tmp_path / "series" / "checkpoint-900").mkdir()  # a checkpoint that was not scored
    (tmp_path / "series" / "notes").mkdir()
    result = load_result(tmp_path / "series")
    assert [(c.step, c.name) for c in result.steps] == [
        (7, "run-7"), (20, "checkpoint-20"), (500, "checkpoint-500"), (1000, "step_1000")
    ]  # fmt: skip
    last = json.loads((tmp_path / "series" / "step_1000" / "scores.json").read_text())
    assert result.scores == last == result.steps[-1].scores
    assert result.source == tmp_path / "series" / "step_1000"


def test_two_checkpoints_of_one_step_are_refused(tmp_path: Path, write_result):
    write_result(tmp_path / "s" / "checkpoint-5")
    write_result(tmp_path / "s" / "step-05")
    with pytest.raises(LumeError, match="checkpoint-5 and step-05 are both step 5"):
        load_result(tmp_path / "s")


def test_no_scores_anywhere_says_where_it_looked_and_why(tmp_path: Path, write_run):
    write_run(tmp_path / "run", status="failed", reason="unlearn() raised", scored=False)
    with pytest.raises(LumeError) as caught:
        load_result(tmp_path / "run")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'run'}: no scores.json here")
    assert "status 'failed': unlearn() raised" in message and "\n" not in message
    with pytest.raises(LumeError, match="not a directory"):
        load_result(tmp_path / "absent")


def _rewrite_line(path: Path, line: int, **changes) -> None:
    rows = path.read_text().splitlines()
    rows[line - 1] = json.dumps(json.loads(rows[line - 1]) | changes)
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize(
    ("file", "line", "changes", "needle"),
    [
        ("items.jsonl", 3, {"score": "high"}, "items.jsonl: line 3: field 'score' is 'high'"),
        ("items.jsonl", 2, {"generation": None}, "line 2: field 'generation' is None"),
        ("items.jsonl", 4, {"id": '"Task1-forget-0"sc1'}, "line 4: id '\"Task1-forget-0\"sc1' "
                                                          "repeats line 1"),
        ("mia.jsonl", 5, {"member": "yes"}, "mia.jsonl: line 5: field 'member' is 'yes'"),
        ("mia.jsonl", 6, {"zlib": [1]}, "line 6: field 'zlib' is [1], expected a number"),
    ],
)  # fmt: skip
def test_a_bad_row_is_named_by_file_line_and_field(tmp_path, write_result, file, line, changes,
                                                    needle):  # fmt: skip
    write_result(tmp_path / "r")
    _rewrite_line(tmp_path / "r" / file, line, **changes)
    with pytest.raises(LumeError, match=None) as caught:
        load_result(tmp_path / "r")
    assert needle in str(caught.value)


def test_bad_scores_are_refused_before_drawing(tmp_path: Path, write_result):
    path = tmp_path / "r" / "scores.json"
    scores = write_result(tmp_path / "r")
    path.write_text(json.dumps(scores | {"final_score": 0.99}))
    with pytest.raises(LumeError, match="final_score 0.99 is not the mean"):
        load_result(tmp_path / "r")
    scores["mmlu_details"]["by_subject"]["world_history"] = {"correct": 5, "questions": 4}
    path.write_text(json.dumps(scores))
    with pytest.raises(LumeError, match="'mmlu_details.by_subject.world_history' is"):
        load_result(tmp_path / "r")
    del scores["mmlu_details"]["by_subject"]
    scores["retain"]["Task2"]["knowledge"] = 1.5
    path.write_text(json.dumps(scores))
    with pytest.raises(LumeError, match="field 'retain.Task2.knowledge' is 1.5"):
        load_result(tmp_path / "r")
    path.write_text("{not json")
    with pytest.raises(LumeError, match="scores.json: not valid JSON"):
        load_result(tmp_path / "r")


def test_a_bad_run_json_field_is_named(tmp_path: Path, write_result, write_run):
    write_result(tmp_path / "r" / "evaluation")
    write_run(tmp_path / "r", gpu={"gpu_seconds": "many"})
    with pytest.raises(LumeError, match="field 'gpu.gpu_seconds' is 'many'"):
        load_result(tmp_path / "r")


def test_results_with_the_same_directory_name_get_told_apart(tmp_path: Path, write_result):
    for where in ("a/out", "b/out", "c/x/out", "d/x/out"):
        write_result(tmp_path / where)
    dirs = [tmp_path / w for w in ("a/out", "b/out", "c/x/out", "d/x/out")]
    assert unique_names(dirs) == ["a/out", "b/out", "x/out (3)", "x/out (4)"]
    assert [r.name for r in load_results(dirs[0], dirs[1:2])] == ["a/out", "b/out"]
    shutil.rmtree(tmp_path / "b")
    with pytest.raises(LumeError, match="b/out: not a directory"):
        load_results(dirs[0], dirs[1:2])
