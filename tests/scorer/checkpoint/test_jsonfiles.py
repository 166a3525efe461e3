"""Untrusted JSON: equality as JSON, named differences, depth, remote-code hooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.checkpoint.jsonfiles import (
    MISSING,
    depth,
    json_diff,
    read_json,
    remote_code_hooks,
    same,
    show,
    untrusted_hooks,
)


def test_same_is_json_equality_with_exact_types() -> None:
    assert same({"a": [1, 2.0]}, {"a": [1, 2.0]})
    assert not same(1, 1.0) and not same({"a": [1, 2.0]}, {"a": [1.0, 2]})  # 3.0 is no 3
    assert not same(True, 1) and not same(0, False) and not same(None, 0)
    assert not same([1], [1, 1]) and not same({"a": 1}, {"b": 1}) and not same("1", 1)


def test_json_diff_names_each_differing_field() -> None:
    ours = {"a": 1, "b": {"c": [1, 2], "d": True}, "only_ours": 0}
    theirs = {"a": 1.0, "b": {"c": [1, 3], "d": True}, "only_theirs": "x"}
    assert json_diff(ours, theirs) == [
        ("a", 1, 1.0),
        ("b.c", [1, 2], [1, 3]),
        ("only_ours", 0, MISSING),
        ("only_theirs", MISSING, "x"),
    ]
    assert json_diff([1], {"a": 1}) == [("", [1], {"a": 1})]


def test_show_is_short_json() -> None:
    assert show(MISSING) == "absent"
    assert show({"b": 1, "a": None}) == '{"a": null, "b": 1}'
    long = show("x" * 100)
    assert len(long) == 60 and long.endswith("...")


def test_depth_of_deep_nesting_without_recursion() -> None:
    assert depth(1) == 1 and depth([]) == 1 and depth({"a": [1]}) == 3
    nested: list = []
    for _ in range(100_000):  # deeper than Python's recursion limit
        nested = [nested]
    assert depth(nested) == 100_001


def test_remote_code_hooks_at_any_depth() -> None:
    value = {
        "auto_map": {"AutoModel": "m.M"},
        "list": [{"custom_pipelines": {}}, {"trust_remote_code": False}],
        "deep": {"trust_remote_code": True, "code_revision": "abc"},
    }
    assert list(remote_code_hooks(value)) == [
        ("auto_map", {"AutoModel": "m.M"}),
        ("list[0].custom_pipelines", {}),
        ("deep.trust_remote_code", True),
        ("deep.code_revision", "abc"),
    ]


def test_only_hooks_the_reference_lacks_are_untrusted() -> None:
    reference = {"auto_map": {"AutoModel": "m.M"}}
    assert untrusted_hooks({"auto_map": {"AutoModel": "m.M"}}, reference) == []
    assert untrusted_hooks({"auto_map": {"AutoModel": "evil.E"}}, reference) == [
        ("auto_map", {"AutoModel": "evil.E"})
    ]
    assert untrusted_hooks({"x": {"auto_map": {"AutoModel": "m.M"}}}, reference) == [
        ("x.auto_map", {"AutoModel": "m.M"})  # same value elsewhere: not the reference's hook
    ]
    assert untrusted_hooks({"auto_map": 1}, None) == [("auto_map", 1)]


def test_read_json_reads_no_more_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"a": 1}')
    assert read_json(path, 8) == {"a": 1}
    with pytest.raises(OSError, match="larger than 7 bytes"):
        read_json(path, 7)
