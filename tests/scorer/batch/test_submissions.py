"""What a batch judges: a directory's .py files or a manifest's rows, every mistake one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from scorer.batch.submissions import find_submissions
from scorer.errors import LumeError


def _write(path: Path, text: str = "def unlearn(a, b, c, d):\n    pass\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_directory_gives_its_py_files_in_order_named_by_stem(tmp_path):
    _write(tmp_path / "zeta.py")
    alpha = _write(tmp_path / "alpha.py", "def unlearn(a, b, c, d):\n    return 1\n")
    _write(tmp_path / "notes.txt", "not a submission")
    _write(tmp_path / "sub" / "nested.py")  # sub-directories are not read
    found = find_submissions(tmp_path)
    assert [s.name for s in found] == ["alpha", "zeta"]
    assert [s.team for s in found] == ["alpha", "zeta"]
    assert found[0].path == alpha.resolve()
    assert found[0].sha256 == hashlib.sha256(alpha.read_bytes()).hexdigest()


def test_a_toml_manifest_names_teams_and_entries(tmp_path):
    _write(tmp_path / "files" / "a.py")
    _write(tmp_path / "files" / "b.py")
    manifest = tmp_path / "subs.toml"
    manifest.write_text(
        '[[submission]]\nteam = "alpha"\nfile = "files/a.py"\n\n'
        '[[submission]]\nteam = "beta"\nfile = "files/b.py"\nname = "beta-npo"\n'
    )
    found = find_submissions(manifest)
    assert [(s.name, s.team, s.path.name) for s in found] == [
        ("alpha", "alpha", "a.py"),
        ("beta-npo", "beta", "b.py"),
    ]


def test_a_json_manifest_of_the_same_shape(tmp_path):
    _write(tmp_path / "a.py")
    manifest = tmp_path / "subs.json"
    manifest.write_text(json.dumps({"submission": [{"team": "alpha", "file": "a.py"}]}))
    assert [s.name for s in find_submissions(manifest)] == ["alpha"]


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ('[[submission]]\nteam = "a"\n', "submission 1: field 'file' must be a non-empty string"),
        ('[[submission]]\nteam = "a"\nfile = "gone.py"\n', "submission 1: "),
        ('[[submission]]\nteam = "a"\nfile = "ok.py"\ncolour = 1\n', "unknown field(s) colour"),
        ('[[submission]]\nteam = "a b"\nfile = "ok.py"\n', "name 'a b' cannot name"),
        (
            '[[submission]]\nteam = "a"\nfile = "ok.py"\n\n[[submission]]\nteam = "a"\n'
            'file = "ok.py"\n',
            "submission 2: name 'a' is taken by submission 1",
        ),
        ('[[submission]]\nteam = "batch.json"\nfile = "ok.py"\n', "cannot name a results"),
        ('[[submission]]\nteam = "a"\nfile = "notes.txt"\n', "expected a single .py file"),
        ("title = 'x'\n", "unknown key(s) title"),
        ("submission = []\n", "non-empty list"),
        ("[[submission\n", "not valid TOML"),
    ],
)
def test_a_bad_manifest_row_is_one_line_naming_it(tmp_path, rows, needle):
    _write(tmp_path / "ok.py")
    _write(tmp_path / "notes.txt", "x")
    manifest = tmp_path / "subs.toml"
    manifest.write_text(rows)
    with pytest.raises(LumeError) as caught:
        find_submissions(manifest)
    message = str(caught.value)
    assert needle in message and "\n" not in message
    assert str(manifest) in message


def test_empty_directory_no_py_and_unknown_paths_are_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LumeError, match="empty directory"):
        find_submissions(empty)
    _write(tmp_path / "text" / "readme.md", "x")
    with pytest.raises(LumeError, match="holds no .py file"):
        find_submissions(tmp_path / "text")
    with pytest.raises(LumeError, match="no such directory or manifest"):
        find_submissions(tmp_path / "missing")
    with pytest.raises(LumeError, match="expected a directory of .py files or a"):
        find_submissions(tmp_path / "text" / "readme.md")
    _write(tmp_path / "odd" / "my entry.py")
    with pytest.raises(LumeError, match="name 'my entry' cannot name"):
        find_submissions(tmp_path / "odd")
