"""The reference target a checkpoint is compared with: config, tokenizer files, tensor headers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from scorer.checkpoint.header import HeaderError, TensorInfo, read_header
from scorer.checkpoint.names import CONFIG, GENERATION_CONFIG, INDEX, SINGLE, TOKENIZER_FILES
from scorer.errors import ModelError


@dataclass(frozen=True)
class Reference:
    """What the rules need of the reference target; its weights are never read."""

    path: Path
    config: dict
    generation_config: dict | None
    tensors: dict[str, TensorInfo]
    weight_bytes: int
    files: dict[str, int]  # name → size of every regular file
    tokenizer_files: tuple[str, ...]
    json_files: dict[str, object]  # parsed JSON of the reference's config/tokenizer files


def load_reference(path: str | Path) -> Reference:
    """The reference target's config, tokenizer files and tensor headers (no weights read).

    The reference is the organizer's own directory (a hub cache may hold symlinks, which
    are followed here), so a problem with it is bad input: :class:`ModelError`, exit 2.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelError(f"reference {root}: not a directory")
    try:
        files = {
            e.name: e.stat(follow_symlinks=True).st_size
            for e in os.scandir(root)
            if e.is_file(follow_symlinks=True)
        }
        if CONFIG not in files:
            raise ModelError(f"reference {root}: no config.json")
        if SINGLE in files:
            shards = [SINGLE]
        elif INDEX in files:
            shards = sorted(set(json.loads((root / INDEX).read_text())["weight_map"].values()))
        else:
            raise ModelError(f"reference {root}: no model.safetensors or {INDEX}")
        tensors: dict[str, TensorInfo] = {}
        for shard in shards:
            tensors.update(read_header((root / shard).resolve()))  # hub caches hold symlinks
        weight_bytes = sum(files[s] for s in shards)
        names = [
            n for n in sorted(files) if n in TOKENIZER_FILES or n in (CONFIG, GENERATION_CONFIG)
        ]
        parsed = {n: json.loads((root / n).read_text()) for n in names if n.endswith(".json")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, HeaderError) as err:
        raise ModelError(f"reference {root}: unusable: {' '.join(str(err).split())}") from err
    if not isinstance(parsed[CONFIG], dict):
        raise ModelError(f"reference {root}: config.json is not a JSON object")
    return Reference(
        path=root,
        config=parsed[CONFIG],
        generation_config=parsed.get(GENERATION_CONFIG),
        tensors=tensors,
        weight_bytes=weight_bytes,
        files=files,
        tokenizer_files=tuple(n for n in sorted(files) if n in TOKENIZER_FILES),
        json_files=parsed,
    )
