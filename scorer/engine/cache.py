"""Per-batch results kept on disk, so a killed evaluation resumes where it stopped.

A unit of work (one batch of items) is stored under a key that hashes everything that
decides its result: the checkpoint's bytes (:func:`checkpoint_fingerprint`), the settings
that change numbers, which engine computed it (batched or reference) and its version, and
the batch's own inputs. A changed checkpoint, setting, engine or item therefore gives a new
key and never meets a stale result.
Entries are written atomically (temporary file, then ``os.replace``): a kill leaves a
whole entry or none.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from scorer.data.files import write_bytes_atomic

# Bump when the engine's results for the same inputs could change (invalidates caches).
ENGINE_VERSION = 5  # 2: item results carry their top-2 margin; 3: equal-length bf16 batches;
# 4: bf16 generation batches attended by row; 5: MIA and answer NLLs by row, the official
# loss's shapes

_CHUNK = 1 << 20


def checkpoint_fingerprint(model_dir: str | Path) -> str:
    """sha256 over the name and bytes of every file the scorer loads from a checkpoint.

    Streams each file in 1 MiB chunks (a 7B checkpoint is never held in memory).
    """
    root = Path(model_dir)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.iterdir() if p.is_file() and p.suffix != ".md"):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def unit_key(context: dict, phase: str, payload: list) -> str:
    """The key of one unit: a hash of its context (checkpoint, settings, engine) and inputs,
    so that a result is found again only for exactly the same work."""
    blob = json.dumps(
        {"engine": ENGINE_VERSION, "context": context, "phase": phase, "payload": payload},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResultCache:
    """JSON results by key under ``root/<phase>/``; ``root=None`` keeps nothing.

    A missing or damaged entry reads as ``None`` (recomputed, never trusted).
    """

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    def _path(self, phase: str, key: str) -> Path:
        assert self.root is not None
        return self.root / phase / f"{key}.json"

    def get(self, phase: str, key: str):
        """The stored result of ``key``, or ``None`` when there is none to trust."""
        if self.root is None:
            return None
        path = self._path(phase, key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))["result"]
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):  # damaged: recomputed, never trusted
            return None

    def put(self, phase: str, key: str, result) -> None:
        """Keep ``result`` under ``key`` atomically: a kill leaves a whole entry or none."""
        if self.root is None:
            return
        blob = json.dumps({"key": key, "result": result}, ensure_ascii=False)
        write_bytes_atomic(self._path(phase, key), blob.encode("utf-8"))
