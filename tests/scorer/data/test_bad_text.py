"""Text that is not Unicode is refused at load time, in one line naming file, row and field."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scorer.data.lume import load_items
from scorer.data.mia import load_mia
from scorer.errors import DataError

from scoring import lume_score

GOOD = {"id": "doc1sc1", "input": "Once", "output": "upon a time", "task": "Task1"}


def _parquet_with_raw_bytes(path: Path, inputs: list[bytes]) -> Path:
    """A forget file whose ``input`` column is typed string but holds raw bytes."""
    n = len(inputs)
    columns = {
        "id": pa.array([f"doc{i}sc1" for i in range(n)]),
        "input": pa.array(inputs, pa.binary()).view(pa.string()),  # no UTF-8 check
        "output": pa.array(["upon a time"] * n),
        "task": pa.array(["Task1"] * n),
        "split": pa.array(["forget"] * n),
    }
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_string_that_is_not_utf8_names_row_and_field(tmp_path: Path) -> None:
    path = _parquet_with_raw_bytes(tmp_path / "forget.parquet", [b"fine", b"ok", b"bad \xff"])
    with pytest.raises(DataError) as err:
        load_items(path, expected_split="forget")
    message = str(err.value)
    assert message == f"{path}: row 3: field 'input' is not valid UTF-8 (byte 4)"


def test_jsonl_lone_surrogate_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "forget.jsonl"
    rows = [dict(GOOD, split="forget"), dict(GOOD, id="doc2qa0", split="forget")]
    lines = [json.dumps(r) for r in rows]
    lines[1] = lines[1].replace('"upon a time"', '"upon \\ud800 time"')  # a JSON escape
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_items(path, expected_split="forget")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line 2 (id 'doc2qa0'): field 'output'")
    assert "lone surrogate (\\ud800) at character 5" in message


def test_mia_lone_surrogate_names_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "member.jsonl").write_text('{"id": "a", "document": "fine text"}\n')
    (tmp_path / "nonmember.jsonl").write_text('{"id": "b", "document": "x \\udfff y"}\n')
    with pytest.raises(DataError) as err:
        load_mia(tmp_path)
    assert str(err.value).startswith(
        f"{tmp_path / 'nonmember.jsonl'}: line 1 (id 'b'): field 'document' holds a lone surrogate"
    )


def test_cli_refuses_bad_text_before_loading_any_model(tmp_path: Path) -> None:
    """Exit 2 and one line, although the model directory does not even exist."""
    data = tmp_path / "data"
    data.mkdir()
    _parquet_with_raw_bytes(data / "forget.parquet", [b"\xfe"])
    (data / "retain.jsonl").write_text(json.dumps(dict(GOOD, split="retain")) + "\n")
    out = tmp_path / "out"
    result = lume_score(
        "evaluate", str(tmp_path / "no-model"), "--data", str(data), "--out", str(out)
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "row 1: field 'input' is not valid UTF-8" in result.stderr
    assert not out.exists()
