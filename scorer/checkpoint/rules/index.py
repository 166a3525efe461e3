"""Which weight files a loader would read: ``model.safetensors`` alone, or an index's shards."""

from __future__ import annotations

import re

from scorer.checkpoint.names import INDEX, SINGLE
from scorer.checkpoint.rules.inspection import Inspection

SAFE_SHARD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.safetensors")


def weight_layout(inspection: Inspection) -> tuple[list[str], dict[str, str] | None]:
    """The shard files a loader would read, and the index's weight map if one is used.

    Decides as transformers does (``model.safetensors`` wins over an index), so the
    tensors checked are the ones that would be scored; an index may name only plain
    shard names inside the directory. Shards an index does not name become notes.
    """
    files = inspection.files
    shards_present = sorted(n for n in files if n.endswith(".safetensors"))
    has_index, has_single = INDEX in files, SINGLE in files
    if has_single and has_index:
        inspection.add(
            "index",
            INDEX,
            f"both {SINGLE} and {INDEX}: transformers loads {SINGLE} and ignores the index; "
            "keep one",
        )
    if has_single or not has_index:
        if not has_single:
            inspection.add("missing-file", SINGLE, f"no weights: neither {SINGLE} nor {INDEX}")
        for name in shards_present:
            if name != SINGLE:
                inspection.add("unexpected-file", name, f"{name}: shard without an index ({INDEX})")
        return ([SINGLE] if has_single else []), None
    index = inspection.load_json(INDEX, "index")
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if index is not None and (
        not isinstance(weight_map, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items())
    ):
        inspection.add("index", INDEX, f"{INDEX}: no weight_map of tensor name → file name")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        return [], None
    named: list[str] = []
    for shard in sorted(set(weight_map.values())):
        if shard.startswith(("/", "\\")) or "/" in shard or "\\" in shard or ".." in shard:
            inspection.add(
                "path-escape", INDEX, f"{INDEX} names {shard!r}, a path outside the checkpoint"
            )
        elif not SAFE_SHARD_NAME.fullmatch(shard):
            inspection.add("index", INDEX, f"{INDEX} names {shard!r}, not a safetensors file name")
        elif shard not in files:
            inspection.add("index", INDEX, f"{INDEX} names {shard}, which is missing")
        else:
            named.append(shard)
    for name in shards_present:
        if name not in weight_map.values():
            inspection.notes.append(f"{name}: not named by {INDEX}, ignored (as loaders do)")
    return named, weight_map
