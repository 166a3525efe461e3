"""JSON files of an untrusted checkpoint: bounded reading, nesting depth, differences, hooks.

Everything here is pure except :func:`read_json`; deep nesting is measured without
recursion, since a hostile file may nest deeper than Python's stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from scorer.checkpoint.reading import read_bounded

MAX_JSON_DEPTH = 64
# Keys through which transformers would import code named by the checkpoint.
REMOTE_CODE_KEYS = frozenset({"auto_map", "custom_pipelines", "trust_remote_code", "code_revision"})


class _Missing:
    """The value of a key one side of a difference does not have."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def read_json(path: Path, limit: int) -> object:
    """Parsed JSON of ``path``, reading at most ``limit`` bytes (OSError if it holds more)."""
    return json.loads(read_bounded(path, limit).decode("utf-8"))


def depth(value: object) -> int:
    """Nesting depth (a scalar is 1), so that over-deep files are refused before any walk."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, level + 1) for child in children)
    return deepest


def json_diff(ours: object, theirs: object, path: str = "") -> list[tuple[str, object, object]]:
    """(dotted path, our value, their value) for each difference; :data:`MISSING` if absent.

    Objects are compared key by key (sorted) so a report names the field that differs;
    anything else is compared whole, as JSON values (see :func:`same`).
    """
    if isinstance(ours, dict) and isinstance(theirs, dict):
        diffs = []
        for key in sorted(ours.keys() | theirs.keys()):
            sub = f"{path}.{key}" if path else key
            if key not in ours or key not in theirs:
                diffs.append((sub, ours.get(key, MISSING), theirs.get(key, MISSING)))
            else:
                diffs.extend(json_diff(ours[key], theirs[key], sub))
        return diffs
    return [] if same(ours, theirs) else [(path, ours, theirs)]


def same(a: object, b: object) -> bool:
    """JSON equality with exact types: 3 != 3.0 (a loader that accepts 3.0 for a layer count
    still breaks on it), true != 1."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def show(value: object) -> str:
    """A value as a report shows it: JSON, cut to 60 characters; ``absent`` for MISSING."""
    if value is MISSING:
        return "absent"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def untrusted_hooks(value: object, reference: object) -> list[tuple[str, object]]:
    """Remote-code hooks of ``value`` that the reference's same file does not have as they are.

    A hook the reference itself ships (same place, same value) changes nothing; any other
    would make a loader with ``trust_remote_code`` run the checkpoint's code.
    """
    trusted = {(where, _canonical(hook)) for where, hook in remote_code_hooks(reference)}
    return [
        (where, hook)
        for where, hook in remote_code_hooks(value)
        if (where, _canonical(hook)) not in trusted
    ]


def remote_code_hooks(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """(dotted path, value) of every :data:`REMOTE_CODE_KEYS` key at any depth.

    ``trust_remote_code`` counts only when true; list items are shown as ``path[i]``.
    """
    if isinstance(value, dict):
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in REMOTE_CODE_KEYS and (key != "trust_remote_code" or sub):
                yield where, sub
            yield from remote_code_hooks(sub, where)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from remote_code_hooks(sub, f"{path}[{i}]")


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True)
