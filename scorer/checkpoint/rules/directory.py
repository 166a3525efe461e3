"""The directory's entries: a flat set of regular files, allowed by name, within size limits."""

from __future__ import annotations

import os
from pathlib import Path

from scorer.checkpoint.limits import file_limit, total_limit
from scorer.checkpoint.names import CONFIG, GENERATION_CONFIG, INDEX, TOKENIZER_FILES
from scorer.checkpoint.rules.inspection import Inspection

PICKLE_SUFFIXES = frozenset(
    {
        ".bin",
        ".pt",
        ".pth",
        ".pkl",
        ".pickle",
        ".ckpt",
        ".joblib",
        ".npy",
        ".npz",
        ".h5",
        ".msgpack",
    }
)
CODE_SUFFIXES = frozenset(
    {".py", ".pyc", ".pyo", ".pyd", ".pyx", ".so", ".dll", ".dylib", ".sh", ".ipynb", ".whl"}
)
ALWAYS_ALLOWED = frozenset({CONFIG, GENERATION_CONFIG, "README.md", ".gitattributes"})


def list_directory(inspection: Inspection) -> bool:
    """Classify every entry without following or opening anything; False if there is none.

    Symlinks, sub-directories, special files, pickle-based and code files are refused by
    their directory entry alone; the other regular files become ``inspection.files``.
    """
    root = inspection.root
    entries = sorted(os.scandir(root), key=lambda e: e.name)
    if not entries:
        inspection.add("empty", "", f"{root}: the checkpoint directory is empty")
        return False
    for entry in entries:
        name, suffix = entry.name, Path(entry.name).suffix.lower()
        if entry.is_symlink():
            target = os.readlink(entry.path)
            inspection.add("symlink", name, f"{name} is a symlink (to {target}); links are refused")
        elif entry.is_dir(follow_symlinks=False):
            inspection.add("unexpected-file", name, f"{name}/ is a sub-directory; none is allowed")
        elif not entry.is_file(follow_symlinks=False):
            inspection.add("unexpected-file", name, f"{name} is not a regular file")
        elif suffix in PICKLE_SUFFIXES:
            inspection.add(
                "pickle-file",
                name,
                f"{name}: pickle-based files are refused (not opened); save safetensors",
            )
        elif suffix in CODE_SUFFIXES:
            inspection.add("python-file", name, f"{name}: code files are refused (not opened)")
        else:
            inspection.files[name] = entry.stat(follow_symlinks=False).st_size
    return True


def check_sizes(inspection: Inspection) -> bool:
    """Per-file and total limits; False if the total is over (then no value is scanned).

    A file over its own limit is marked unreadable, so no later rule opens it.
    """
    reference, limits = inspection.reference, inspection.limits
    for name, size in sorted(inspection.files.items()):
        limit = file_limit(name, reference, limits)
        if size > limit:
            inspection.unreadable.add(name)
            inspection.add("size", name, f"{name} is {size} bytes, over the limit of {limit} bytes")
    total, limit = sum(inspection.files.values()), total_limit(reference, limits)
    if total > limit:
        inspection.add("size", "", f"the checkpoint holds {total} bytes, over the limit of {limit}")
        return False
    return True


def check_allowed(inspection: Inspection, weight_map: dict[str, str] | None) -> None:
    """Refuse every name a Hugging Face causal-LM checkpoint like the reference would not hold.

    Weight files are judged by the index rules, so every ``*.safetensors`` passes here.
    """
    files = inspection.files
    allowed = set(ALWAYS_ALLOWED) | set(inspection.reference.tokenizer_files)
    if weight_map is not None or INDEX in files:
        allowed.add(INDEX)
    allowed.update(n for n in files if n.endswith(".safetensors"))
    for name in sorted(files):
        if name in allowed:
            continue
        why = (
            "a tokenizer file the reference does not have"
            if name in TOKENIZER_FILES
            else "not a file of a Hugging Face causal-LM checkpoint"
        )
        inspection.add("unexpected-file", name, f"{name}: {why}")
