"""Tests for scorer.data: the real public splits, round trips, layouts, bad inputs."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scorer.data.files import (
    write_items_jsonl,
    write_items_parquet,
    write_mia_jsonl,
    write_mmlu_parquet,
)
from scorer.data.lume import find_lume_files, load_items, load_lume
from scorer.data.mia import load_mia
from scorer.data.mmlu import load_mmlu
from scorer.data.records import ITEM_COLUMNS, Item, MiaDocument, MmluQuestion, item_kind
from scorer.errors import DataError, LumeError

# Row counts from ../shared/lume-public/README.md: (total, Task1, Task2, Task3).
PUBLIC_COUNTS = {
    ("forget", "train"): (1112, 166, 642, 304),
    ("retain", "train"): (1136, 206, 612, 318),
    ("forget", "validation"): (254, 48, 138, 68),
    ("retain", "validation"): (278, 54, 150, 74),
}
QUOTED_ID = '"2ebbbb06-ab81-4bdf-af75-0157c7178a82"sc1'

ITEMS = [
    Item(QUOTED_ID, "Once upon a time\nthere  was", "a sorceress.", "Task1", "forget"),
    Item("abc-123qa0", "Phone of Ann?", "555-0100", "Task2", "forget"),
    Item("abc-123qa4", "SSN of Ann?", "900578002", "Task2", "forget"),
    Item(
        "67148749sc1",
        "Soubhagya Kumar Misra\n\n(b. 1941)",
        "Odia poet — ünïcode",
        "Task3",
        "forget",
    ),
    Item("67148749qa0", "Which collection won in 1986?", "Dwa Suparna", "Task3", "forget"),
]


def _retain(items: list[Item]) -> list[Item]:
    return [Item("r" + i.id, i.input, i.output, i.task, "retain") for i in items]


def _records(items: list[Item]) -> list[dict[str, str]]:
    return [{c: getattr(i, c) for c in ITEM_COLUMNS} for i in items]


def _write_jsonl_records(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _error(fn, *args, **kwargs) -> str:
    """Call fn, require a one-line DataError, return its message."""
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return message


# ------------------------------------------------------------------ real public data


@pytest.mark.parametrize("fold", ["train", "validation"])
def test_public_splits_load_with_readme_counts(public_dir: Path, fold: str) -> None:
    loaded = load_lume(public_dir, fold)
    for split, items in loaded.items():
        total, t1, t2, t3 = PUBLIC_COUNTS[(split, fold)]
        assert len(items) == total
        assert Counter(i.task for i in items) == {"Task1": t1, "Task2": t2, "Task3": t3}
        assert {i.split for i in items} == {split}
        assert {i.kind for i in items} == {"sc", "qa"}
    files = find_lume_files(public_dir, fold)
    assert files["forget"].name == f"forget_{fold}-00000-of-00001.parquet"
    assert files["forget"].parent.name == "data"


def test_public_quirks_survive(public_dir: Path) -> None:
    forget = load_items(
        public_dir / "data" / "forget_train-00000-of-00001.parquet",
        expected_split="forget",
    )
    by_id = {i.id: i for i in forget}
    quoted = by_id[QUOTED_ID]
    assert quoted.kind == "sc" and quoted.task == "Task1"
    assert quoted.document_id == '"2ebbbb06-ab81-4bdf-af75-0157c7178a82"'
    task3 = [i for i in forget if i.task == "Task3"]
    assert all(isinstance(i.id, str) and i.document_id.isdigit() for i in task3)
    assert by_id["67148749qa0"].output == "Dwa Suparna"
    task2_kinds = {i.id[-3:] for i in forget if i.task == "Task2"}
    assert task2_kinds == {"sc1", "qa0", "qa1", "qa2", "qa3", "qa4"}
    assert {i.id[-3:] for i in forget if i.task != "Task2"} == {"sc1", "qa0"}


def test_public_mia_loads(public_dir: Path) -> None:
    mia = load_mia(public_dir)  # files are under mia_data/
    assert {k: len(v) for k, v in mia.items()} == {"member": 150, "nonmember": 150}
    assert mia["member"][0].id == "69383905"
    assert mia["member"][0].document.startswith("Jamal Eddine Dkhissi\n\n")
    # Members are the Task3 documents of forget_train; nonmembers were never trained on.
    forget = load_lume(public_dir, "train")["forget"]
    task3_docs = {i.document_id for i in forget if i.task == "Task3"}
    assert {d.id for d in mia["member"]} <= task3_docs
    assert not {d.id for d in mia["nonmember"]} & task3_docs


def test_item_kind() -> None:
    assert item_kind(QUOTED_ID) == "sc"
    assert item_kind("12qa3") == "qa"
    for bad in ("12qa", "12xx1", "qa1", "12sc10"):
        with pytest.raises(ValueError):
            item_kind(bad)


# ------------------------------------------------------------------ round trips


def test_parquet_and_jsonl_round_trip_byte_identical(tmp_path: Path) -> None:
    for name, writer in (
        ("a.parquet", write_items_parquet),
        ("a.jsonl", write_items_jsonl),
    ):
        first, second = tmp_path / "1" / name, tmp_path / "2" / name
        writer(first, ITEMS)
        written = first.read_bytes()
        writer(first, ITEMS)  # overwrite in place
        writer(second, ITEMS)
        assert first.read_bytes() == written == second.read_bytes()
        assert load_items(first, expected_split="forget") == ITEMS
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # the atomic writes left no temp file behind
    schema = pq.read_schema(tmp_path / "1" / "a.parquet")
    assert schema.names == list(ITEM_COLUMNS)
    assert all(t == pa.string() for t in schema.types)
    assert not schema.metadata  # no pandas metadata / index
    first_line = (tmp_path / "1" / "a.jsonl").read_text(encoding="utf-8").splitlines()[3]
    assert list(json.loads(first_line)) == list(ITEM_COLUMNS)
    assert "ünïcode" in first_line  # ensure_ascii=False


def test_column_oriented_jsonl_loads_like_records(tmp_path: Path) -> None:
    df = pd.DataFrame(_records(ITEMS))
    pandas_form = tmp_path / "pandas.jsonl"
    pandas_form.write_text(df.to_json(), encoding="utf-8")  # {"id": {"0": ...}, ...}
    assert json.loads(pandas_form.read_text())["id"]["0"] == QUOTED_ID
    lists_form = tmp_path / "lists.jsonl"
    lists_form.write_text(json.dumps({c: list(df[c]) for c in df.columns}), encoding="utf-8")
    records = tmp_path / "records.jsonl"
    write_items_jsonl(records, ITEMS)
    assert load_items(pandas_form) == load_items(lists_form) == load_items(records) == ITEMS


def test_extra_columns_are_ignored(tmp_path: Path) -> None:
    rows = [dict(r, note=1) for r in _records(ITEMS)]
    path = _write_jsonl_records(tmp_path / "x.jsonl", rows)
    assert load_items(path) == ITEMS


def test_mia_round_trip_and_default_ids(tmp_path: Path) -> None:
    docs = [MiaDocument("7", "A  document\nwith lines."), MiaDocument("x", "Two")]
    write_mia_jsonl(tmp_path / "member.jsonl", docs)
    _write_jsonl_records(
        tmp_path / "nonmember.jsonl",
        [{"id": 12, "document": "int id"}, {"document": "no id"}],
    )
    mia = load_mia(tmp_path)
    assert mia["member"] == docs
    assert mia["nonmember"] == [MiaDocument("12", "int id"), MiaDocument("2", "no id")]


# ------------------------------------------------------------------ layouts


def test_submission_layout_mixed_formats(tmp_path: Path) -> None:
    write_items_jsonl(tmp_path / "forget.jsonl", ITEMS)
    write_items_parquet(tmp_path / "retain.parquet", _retain(ITEMS))
    files = find_lume_files(tmp_path)
    assert files == {
        "forget": tmp_path / "forget.jsonl",
        "retain": tmp_path / "retain.parquet",
    }
    loaded = load_lume(tmp_path, fold="train")  # fold does not apply to this layout
    assert loaded == {"forget": ITEMS, "retain": _retain(ITEMS)}


def test_submission_layout_prefers_parquet(tmp_path: Path) -> None:
    write_items_parquet(tmp_path / "forget.parquet", ITEMS[:2])
    write_items_jsonl(tmp_path / "forget.jsonl", ITEMS)
    write_items_jsonl(tmp_path / "retain.jsonl", _retain(ITEMS))
    assert load_lume(tmp_path)["forget"] == ITEMS[:2]


def test_hub_layout_under_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_items_parquet(data / "forget_train-00000-of-00001.parquet", ITEMS)
    write_items_parquet(data / "retain_train-00000-of-00001.parquet", _retain(ITEMS))
    write_items_parquet(data / "forget_validation-00000-of-00001.parquet", ITEMS[:1])
    write_items_parquet(data / "retain_validation-00000-of-00001.parquet", _retain(ITEMS)[:1])
    assert load_lume(tmp_path, "train") == {"forget": ITEMS, "retain": _retain(ITEMS)}
    assert load_lume(tmp_path)["forget"] == ITEMS[:1]  # validation is the default fold


def test_no_lume_files_names_dir_and_files(tmp_path: Path) -> None:
    write_items_jsonl(tmp_path / "forget.jsonl", ITEMS)  # retain missing
    message = _error(find_lume_files, tmp_path)
    assert str(tmp_path) in message
    assert "forget_validation-00000-of-00001.parquet" in message
    assert "retain.parquet" in message


MMLU_ROWS = {
    # subject: [(question, A, B, C, D, letter)]
    "abstract_algebra": [
        ("Find  the degree of Q(sqrt(2)) over Q.", "0", "2", "None", "NA", "B"),
        ('Statement 1 | x,\nStatement 2 | "y"', "True, True", "False", " ", "n/a", "D"),
    ],
    "anatomy": [("Which bone?", "femur", "tibia", "ulna", "None of these", "A")],
}


def _write_mmlu_csv(root: Path, split: str, rows: dict[str, list[tuple]]) -> None:
    (root / split).mkdir(parents=True, exist_ok=True)
    for subject, subject_rows in rows.items():
        with (root / split / f"{subject}_{split}.csv").open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(subject_rows)


def _expected_mmlu(rows: dict[str, list[tuple]]) -> dict[str, list[MmluQuestion]]:
    return {
        s: [MmluQuestion(s, r[0], tuple(r[1:5]), "ABCD".index(r[5])) for r in subject_rows]
        for s, subject_rows in rows.items()
    }


def test_mmlu_csv_and_parquet_layouts_agree(tmp_path: Path) -> None:
    csv_root = tmp_path / "csv"
    _write_mmlu_csv(csv_root / "data", "test", MMLU_ROWS)
    _write_mmlu_csv(csv_root / "data", "dev", {"anatomy": MMLU_ROWS["anatomy"]})
    expected = _expected_mmlu(MMLU_ROWS)
    from_csv = load_mmlu(csv_root)
    assert from_csv["test"] == expected
    assert from_csv["dev"] == {"anatomy": expected["anatomy"]}
    assert from_csv["test"]["abstract_algebra"][0].question.startswith("Find  the")
    assert from_csv["test"]["abstract_algebra"][0].choices[2:] == ("None", "NA")

    hub = tmp_path / "hub"
    for split, by_subject in from_csv.items():
        for subject, questions in by_subject.items():
            write_mmlu_parquet(hub, split, subject, questions)
    # A cais-style "all/" directory is skipped when per-subject dirs exist.
    write_mmlu_parquet(hub, "test", "all", expected["anatomy"])
    assert load_mmlu(hub) == from_csv
    assert list(load_mmlu(hub)["test"]) == ["abstract_algebra", "anatomy"]


def test_mmlu_parquet_all_only_and_letter_answers(tmp_path: Path) -> None:
    table = pa.table(
        {
            "question": ["q1", "q2", "q3"],
            "subject": ["virology", "anatomy", "virology"],
            "choices": [["a", "b", "c", "d"]] * 3,
            "answer": ["C", "A", "D"],
        }
    )
    (tmp_path / "all").mkdir()
    pq.write_table(table, tmp_path / "all" / "test-00000-of-00001.parquet")
    loaded = load_mmlu(tmp_path)
    assert loaded["dev"] == {}
    assert list(loaded["test"]) == ["anatomy", "virology"]
    assert [(q.question, q.answer) for q in loaded["test"]["virology"]] == [
        ("q1", 2),
        ("q3", 3),
    ]


# ------------------------------------------------------------------ bad inputs


def test_bad_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "forget.parquet"
    message = _error(load_items, path)
    assert message == f"{path}: file not found"


def test_bad_missing_column(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "task"} for r in _records(ITEMS)]
    path = tmp_path / "forget.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    message = _error(load_items, path)
    assert str(path) in message and "'task'" in message
    assert "id, input, output, task, split" in message


def test_bad_misnamed_column(tmp_path: Path) -> None:
    rows = [{("answer" if k == "output" else k): v for k, v in r.items()} for r in _records(ITEMS)]
    path = _write_jsonl_records(tmp_path / "forget.jsonl", rows)
    message = _error(load_items, path)
    assert str(path) in message and "line 1" in message and "field 'output'" in message
    assert "expected columns: id, input, output, task, split" in message
    assert "answer" in message


def test_bad_wrong_type(tmp_path: Path) -> None:
    rows = _records(ITEMS)
    rows[2]["output"] = 900578002
    path = _write_jsonl_records(tmp_path / "forget.jsonl", rows)
    message = _error(load_items, path)
    assert str(path) in message
    assert "line 3 (id 'abc-123qa4')" in message
    assert "field 'output'" in message and "int" in message


def test_bad_duplicate_id(tmp_path: Path) -> None:
    path = tmp_path / "forget.parquet"
    write_items_parquet(path, [*ITEMS, ITEMS[1]])
    message = _error(load_items, path)
    assert message.startswith(f"{path}: row 6 (id 'abc-123qa0'): field 'id'")
    assert "row 2" in message


def test_bad_id_suffix(tmp_path: Path) -> None:
    path = tmp_path / "forget.parquet"
    write_items_parquet(path, [*ITEMS, Item("abc-123xx1", "q", "a", "Task2", "forget")])
    message = _error(load_items, path)
    assert "row 6 (id 'abc-123xx1'): field 'id'" in message and str(path) in message
    assert "sc<digit>" in message


def test_bad_empty_output(tmp_path: Path) -> None:
    path = tmp_path / "forget.parquet"
    write_items_parquet(path, [*ITEMS[:3], Item("abc-123qa1", "q", "  \n", "Task2", "forget")])
    message = _error(load_items, path)
    assert message == f"{path}: row 4 (id 'abc-123qa1'): field 'output' is empty"


def test_bad_unknown_task(tmp_path: Path) -> None:
    path = tmp_path / "forget.jsonl"
    write_items_jsonl(path, [*ITEMS, Item("zzsc1", "q", "a", "Task4", "forget")])
    message = _error(load_items, path)
    assert "line 6 (id 'zzsc1'): field 'task'" in message and "'Task4'" in message
    assert str(path) in message


def test_bad_forget_file_holding_retain_rows(tmp_path: Path) -> None:
    write_items_parquet(tmp_path / "forget.parquet", _retain(ITEMS))
    write_items_parquet(tmp_path / "retain.parquet", _retain(ITEMS)[:1])
    message = _error(load_lume, tmp_path)
    assert str(tmp_path / "forget.parquet") in message
    assert "row 1" in message and "field 'split'" in message and "'retain'" in message


def test_bad_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "forget.parquet"
    write_items_parquet(path, ITEMS)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = _error(load_items, path)
    assert message.startswith(f"{path}: cannot read parquet file")


def test_bad_jsonl_line_not_json(tmp_path: Path) -> None:
    path = tmp_path / "forget.jsonl"
    write_items_jsonl(path, ITEMS)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"id": "x", "input": \n')
    message = _error(load_items, path)
    assert message.startswith(f"{path}: line 6: not valid JSON")


def test_bad_jsonl_line_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "forget.jsonl"
    write_items_jsonl(path, ITEMS[:2])
    path.write_bytes(path.read_bytes() + b"\xff\xfe\n")
    message = _error(load_items, path)
    assert message.startswith(f"{path}: line 3: not valid UTF-8")


def test_bad_mia_record_without_document(tmp_path: Path) -> None:
    write_mia_jsonl(tmp_path / "member.jsonl", [MiaDocument("1", "doc")])
    path = _write_jsonl_records(
        tmp_path / "nonmember.jsonl",
        [{"id": "a", "document": "d"}, {"id": "b", "text": "t"}],
    )
    message = _error(load_mia, tmp_path)
    assert message == f"{path}: line 2 (id 'b'): field 'document' is missing"


def test_bad_mia_empty_file(tmp_path: Path) -> None:
    write_mia_jsonl(tmp_path / "member.jsonl", [MiaDocument("1", "doc")])
    (tmp_path / "nonmember.jsonl").write_text("", encoding="utf-8")
    message = _error(load_mia, tmp_path)
    assert str(tmp_path / "nonmember.jsonl") in message and "empty" in message


def test_bad_mmlu_csv_answer_letter(tmp_path: Path) -> None:
    rows = {"anatomy": [*MMLU_ROWS["anatomy"], ("Which?", "a", "b", "c", "d", "E")]}
    _write_mmlu_csv(tmp_path, "test", rows)
    message = _error(load_mmlu, tmp_path)
    path = tmp_path / "test" / "anatomy_test.csv"
    assert message.startswith(f"{path}: row 2: field 'answer' is 'E'")


def test_bad_mmlu_parquet_answer_out_of_range(tmp_path: Path) -> None:
    questions = [MmluQuestion("virology", "q", ("a", "b", "c", "d"), 7)]
    write_mmlu_parquet(tmp_path, "test", "virology", questions)
    message = _error(load_mmlu, tmp_path)
    path = tmp_path / "virology" / "test-00000-of-00001.parquet"
    assert message.startswith(f"{path}: row 1: field 'answer' is 7")


def test_bad_mmlu_three_choices(tmp_path: Path) -> None:
    _write_mmlu_csv(tmp_path, "test", {"anatomy": [("Which?", "a", "b", "c", "A")]})
    message = _error(load_mmlu, tmp_path)
    assert message.startswith(f"{tmp_path / 'test' / 'anatomy_test.csv'}: row 1: field 'choices'")
    table = pa.table(
        {
            "question": ["q"],
            "subject": [""],
            "choices": [["a", "b", "c"]],
            "answer": [0],
        }
    )
    (tmp_path / "hub" / "anatomy").mkdir(parents=True)
    path = tmp_path / "hub" / "anatomy" / "test-00000-of-00001.parquet"
    pq.write_table(table, path)
    message = _error(load_mmlu, tmp_path / "hub")
    assert message.startswith(f"{path}: row 1: field 'choices' has 3 choices")


def test_bad_id_in_both_forget_and_retain(tmp_path: Path) -> None:
    shared = Item("abc-123qa0", "Phone of Ann?", "555-0100", "Task2", "retain")
    write_items_parquet(tmp_path / "forget.parquet", ITEMS)
    write_items_parquet(tmp_path / "retain.parquet", [*_retain(ITEMS)[:2], shared])
    message = _error(load_lume, tmp_path)
    assert str(tmp_path / "retain.parquet") in message
    assert "row 3 (id 'abc-123qa0'): field 'id'" in message
    assert str(tmp_path / "forget.parquet") in message and "row 2" in message


def test_data_error_is_a_lume_error() -> None:
    assert issubclass(DataError, LumeError)
