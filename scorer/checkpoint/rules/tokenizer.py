"""Tokenizer files: every one the reference has, present and equal to the reference's."""

from __future__ import annotations

import os
from pathlib import Path

from scorer.checkpoint.jsonfiles import json_diff, show
from scorer.checkpoint.limits import MiB
from scorer.checkpoint.reading import open_regular
from scorer.checkpoint.rules.inspection import Inspection

# Keys transformers 5 adds to tokenizer_config.json when it saves a tokenizer it loaded.
TOKENIZER_CONFIG_MAY_DIFFER = frozenset({"is_local", "local_files_only", "name_or_path"})


def check_tokenizer(inspection: Inspection) -> None:
    """Each reference tokenizer file present and equal: JSON as parsed JSON, others byte for byte.

    ``save_pretrained`` re-serializes JSON files, so only their parsed values must match;
    the tokenization the scorer relies on must be exactly the reference's.
    """
    reference = inspection.reference
    for name in reference.tokenizer_files:
        if name not in inspection.files:
            inspection.add("tokenizer", name, f"{name} (a tokenizer file) is missing")
            continue
        if name.endswith(".json"):
            ours = inspection.load_json(name, "tokenizer")
            if ours is None:
                continue
            diffs = json_diff(ours, reference.json_files[name])
            if name == "tokenizer_config.json":
                diffs = [d for d in diffs if d[0].split(".")[0] not in TOKENIZER_CONFIG_MAY_DIFFER]
            if diffs:
                where, mine, ref = diffs[0]
                inspection.add(
                    "tokenizer",
                    name,
                    f"{name} differs from the reference's ({len(diffs)} difference(s); "
                    f"first: {where or '(top level)'} is {show(mine)}, "
                    f"the reference has {show(ref)})",
                )
        elif inspection.readable(name):
            try:
                offset = first_difference(inspection.root / name, reference.path / name)
            except OSError as err:
                inspection.add("tokenizer", name, f"{name}: unreadable ({err})")
                continue
            if offset is not None:
                inspection.add(
                    "tokenizer",
                    name,
                    f"{name} differs from the reference's (first at byte {offset})",
                )


def first_difference(ours: Path, theirs: Path, chunk: int = MiB) -> int | None:
    """The offset of the first byte where the two files differ; None if they are equal.

    ``ours`` (the checkpoint's) is opened as a regular file only; both are read in chunks.
    """
    fd = open_regular(ours)
    with os.fdopen(fd, "rb") as a, open(theirs, "rb") as b:
        offset = 0
        while True:
            x, y = a.read(chunk), b.read(chunk)
            if x != y:
                same = next(
                    (i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y))
                )
                return offset + same
            if not x:
                return None
            offset += len(x)
