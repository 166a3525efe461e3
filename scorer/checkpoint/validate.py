"""Checkpoint validation: may this directory be loaded and scored, safely and fairly?

A submission's ``unlearn()`` leaves a directory that the organizer will load. Before any
loader touches it, :func:`validate_checkpoint` compares it with the reference target and
lists *every* problem as a :class:`Violation` with a stable rule id. Nothing in the
checkpoint is ever unpickled, imported or followed through a symlink: weights are read
through their safetensors headers and then streamed in bounded chunks, so peak memory
stays far below one shard's size whatever the checkpoint holds.

Decisions (each a rule id in the report):

- ``empty``: an empty directory. ``pickle-file`` / ``python-file``: refused by name,
  never opened.
- ``symlink``, ``unexpected-file``: the directory is flat; symlinks, sub-directories
  (a save killed half-way that left a staging directory included), special files and
  names outside the allow-list are refused. Allowed: ``config.json``,
  ``generation_config.json``, the weights (``model.safetensors`` alone, or
  ``model.safetensors.index.json`` and the shards it names), the tokenizer files the
  reference has, ``README.md`` and ``.gitattributes``.
- With an index, ``*.safetensors`` files it does not name (a shard a killed save left
  behind) are never read by a loader: they count towards the size limit and are listed as
  notes, not violations. Without an index, ``model.safetensors`` is the only weight file.
  Both ``model.safetensors`` and an index is an ``index`` violation: transformers would
  load ``model.safetensors`` and ignore the index. No weights at all: ``missing-file``.
  An index may name only plain ``*.safetensors`` names in the directory (``path-escape``
  for ``../x``, ``/x`` or ``a/b``) and must agree with the shards' headers: each tensor
  in exactly one shard, the one the index says (``index``).
- ``config``: ``config.json`` must equal the reference's except :data:`CONFIG_MAY_DIFFER`;
  ``generation_config.json`` too (transformers fills unset generation settings from it,
  so a ``repetition_penalty`` or ``bad_words_ids`` there would change the scored
  generations); it may be absent, and without one in the reference it may hold only
  values equal to the reference's ``config.json``.
- ``tokenizer``: every tokenizer file of the reference present and equal: JSON files
  equal as parsed JSON (``save_pretrained`` re-serializes, and transformers 5 adds the
  load-time keys :data:`TOKENIZER_CONFIG_MAY_DIFFER`), other files byte for byte.
- ``remote-code``: :data:`REMOTE_CODE_KEYS` anywhere in any JSON file, unless the
  reference's same file has the same key with the same value.
- Tensors: same names and shapes as the reference (``missing-tensor``, ``extra-tensor``,
  ``shape``; tied embeddings follow what the reference stores); a floating tensor of the
  reference may be stored in any of :data:`FLOAT_DTYPES` (not fp8), any other must keep
  the reference's dtype (``dtype``); every floating value finite (``non-finite``).
- A weight file the safetensors library would refuse is ``empty``, ``truncated`` (the
  header or data run past the end) or ``not-safetensors``, never a crash.
- ``size``: see :class:`Limits`; files over a limit are never opened.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scorer.errors import ModelError

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
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "tokenizer.model",
        "spiece.model",
        "sentencepiece.bpe.model",
        "chat_template.jinja",
        "chat_template.json",
    }
)
CONFIG = "config.json"
GENERATION_CONFIG = "generation_config.json"
SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
ALWAYS_ALLOWED = frozenset({CONFIG, GENERATION_CONFIG, "README.md", ".gitattributes"})

# Fields of config.json that do not change the model's shapes or computation.
CONFIG_MAY_DIFFER = frozenset(
    {
        "dtype",
        "torch_dtype",
        "transformers_version",
        "_name_or_path",
        "_commit_hash",
        "_attn_implementation_autoset",
        "use_cache",
        "output_attentions",
        "output_hidden_states",
        "return_dict",
    }
)
GENERATION_MAY_DIFFER = frozenset({"transformers_version", "_from_model_config"})
TOKENIZER_CONFIG_MAY_DIFFER = frozenset({"is_local", "local_files_only", "name_or_path"})
REMOTE_CODE_KEYS = frozenset({"auto_map", "custom_pipelines", "trust_remote_code", "code_revision"})
WEIGHT_DTYPES = frozenset({None, "float32", "float16", "bfloat16", "float64"})

DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
MAX_HEADER_BYTES = 100_000_000  # the safetensors library refuses larger headers
SAFE_SHARD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.safetensors")
MAX_JSON_DEPTH = 64
MiB = 1 << 20

# ``progress(phase, total)`` returns ``advance(n)``; the CLI passes its progress bars.
ProgressFactory = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class Violation:
    rule: str
    file: str
    message: str
    tensor: str | None = None


@dataclass
class ValidationReport:
    checkpoint: str
    reference: str
    violations: list[Violation]
    tensors_checked: int
    bytes_checked: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "checkpoint": self.checkpoint,
            "reference": self.reference,
            "violations": [asdict(v) for v in self.violations],
            "notes": list(self.notes),
            "tensors_checked": self.tensors_checked,
            "bytes_checked": self.bytes_checked,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Limits:
    """Size limits; ``None`` derives one from the reference.

    Default total: ``weight_factor`` × the reference's weight bytes (2.2: fp32 weights of a
    bf16 reference pass) + its other files + ``other_slack_bytes``. A weight file may be at
    most the total; any other file at most the reference's file of that name (0 if none)
    + ``other_slack_bytes``. Files over a limit are not read. ``chunk_bytes`` bounds the
    memory of the finiteness scan.
    """

    total_bytes: int | None = None
    weight_file_bytes: int | None = None
    other_file_bytes: int | None = None
    weight_factor: float = 2.2
    other_slack_bytes: int = 4 * MiB
    chunk_bytes: int = 16 * MiB


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute byte offsets in the file
    end: int


class HeaderError(Exception):
    """A safetensors file the loader would refuse; ``rule`` says how."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


# ---------------------------------------------------------------- files, safely


def _open_regular(path: Path) -> int:
    """A file descriptor on ``path`` only if it is a regular file reached without a symlink."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return fd


def _read_bytes(path: Path, limit: int) -> bytes:
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit} bytes")
    return data


def _read_json(path: Path, limit: int):
    return json.loads(_read_bytes(path, limit).decode("utf-8"))


# ---------------------------------------------------------------- safetensors headers


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Tensor name → dtype, shape and absolute byte range, read from the header only.

    Refuses what the safetensors library refuses: a header length past the end, a header
    that is not a JSON object, byte ranges that do not tile the data exactly.
    """
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise HeaderError("empty", f"{path.name} is empty (0 bytes)")
        if size < 8:
            raise HeaderError("truncated", f"{path.name} is {size} bytes, shorter than a header")
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > MAX_HEADER_BYTES:
            raise HeaderError("not-safetensors", f"{path.name}: header length {length} too large")
        if 8 + length > size:
            raise HeaderError(
                "truncated", f"{path.name}: header of {length} bytes runs past the end ({size})"
            )
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HeaderError("not-safetensors", f"{path.name}: header is not JSON") from None
    if not isinstance(header, dict):
        raise HeaderError("not-safetensors", f"{path.name}: header is not a JSON object")
    tensors = {n: _tensor_info(path.name, n, e, 8 + length) for n, e in header.items()}
    tensors.pop("__metadata__", None)
    _check_tiling(path.name, tensors, 8 + length, size)
    return tensors


def _tensor_info(file: str, name: str, entry, base: int) -> TensorInfo | None:
    if name == "__metadata__":
        if entry is not None and not isinstance(entry, dict):
            raise HeaderError("not-safetensors", f"{file}: __metadata__ is not an object")
        return None
    bad = HeaderError("not-safetensors", f"{file}: tensor {name!r} has a malformed header entry")
    if not isinstance(entry, dict):
        raise bad
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if (
        not isinstance(dtype, str)
        or dtype not in DTYPE_BYTES
        or not isinstance(shape, list)
        or not all(_is_count(d) for d in shape)
        or not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_count(o) for o in offsets)
        or offsets[1] < offsets[0]
    ):
        raise bad
    if (offsets[1] - offsets[0]) != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise HeaderError(
            "not-safetensors",
            f"{file}: tensor {name!r} of shape {shape} {dtype} does not fit its byte range",
        )
    return TensorInfo(dtype, tuple(shape), base + offsets[0], base + offsets[1])


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_tiling(file: str, tensors: dict[str, TensorInfo], base: int, size: int) -> None:
    position = base
    for name, info in sorted(tensors.items(), key=lambda kv: (kv[1].start, kv[1].end)):
        if info.start != position:
            raise HeaderError(
                "not-safetensors", f"{file}: tensor {name!r} leaves a gap or overlaps another"
            )
        position = info.end
    if position > size:
        raise HeaderError(
            "truncated", f"{file}: data ends at byte {position} but the file has {size} bytes"
        )
    if position < size:
        raise HeaderError("not-safetensors", f"{file}: {size - position} bytes after the data")


# ---------------------------------------------------------------- finiteness, streamed


@dataclass(frozen=True)
class NonFinite:
    nan: int
    inf: int
    first: int  # flat element index of the first NaN or Inf


def scan_finite(
    path: Path,
    tensors: dict[str, TensorInfo],
    chunk_bytes: int,
    advance: Callable[[int], None] = lambda _n: None,
) -> Iterator[tuple[str, NonFinite | None]]:
    """Stream each floating tensor of ``path`` through one reusable buffer.

    Plain reads (not mmap) keep the file out of the process's resident memory; a chunk's
    sum is finite only if every value is, so the exact count runs on bad chunks only.
    """
    import torch

    torch_dtypes = {
        "F16": torch.float16,
        "BF16": torch.bfloat16,
        "F32": torch.float32,
        "F64": torch.float64,
    }
    chunk_bytes = max(8, chunk_bytes - chunk_bytes % 8)
    buffer = bytearray(chunk_bytes)
    view = memoryview(buffer)
    fd = _open_regular(path)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        for name, info in sorted(tensors.items(), key=lambda kv: kv[1].start):
            if info.dtype not in torch_dtypes or info.end == info.start:
                continue
            width = DTYPE_BYTES[info.dtype]
            handle.seek(info.start)
            nan = inf = 0
            first = -1
            done = 0
            while done < info.end - info.start:
                want = min(chunk_bytes, info.end - info.start - done)
                got = _read_exactly(handle, view[:want])
                if got < want:
                    raise HeaderError("truncated", f"{path.name}: tensor {name!r} ends early")
                values = torch.frombuffer(
                    buffer, dtype=torch_dtypes[info.dtype], count=got // width
                )
                if not torch.isfinite(values.sum()):
                    nans, infs = torch.isnan(values), torch.isinf(values)
                    nan += int(nans.sum())
                    inf += int(infs.sum())
                    if first < 0 and (nans.any() or infs.any()):
                        first = done // width + int(torch.nonzero(nans | infs)[0, 0])
                done += got
                advance(got)
            yield name, NonFinite(nan, inf, first) if nan or inf else None


def _read_exactly(handle, view: memoryview) -> int:
    """Fill ``view`` unless the file ends first; the number of bytes read."""
    got = 0
    while got < len(view):
        n = handle.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _index_in(shape: tuple[int, ...], flat: int) -> list[int]:
    position = []
    for dim in reversed(shape):
        position.append(flat % dim)
        flat //= dim
    return position[::-1]


# ---------------------------------------------------------------- JSON comparison

_MISSING = object()


def _same(a, b) -> bool:
    """JSON equality: 1 == 1.0 (re-serialization may change it), but true != 1."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _depth(value) -> int:
    """Nesting depth, without recursion (a hostile file may nest deeply)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, level + 1) for child in children)
    return deepest


def json_diff(ours, theirs, path: str = "") -> list[tuple[str, object, object]]:
    """(dotted path, our value, their value) for each difference; ``_MISSING`` if absent."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        diffs = []
        for key in sorted(ours.keys() | theirs.keys()):
            sub = f"{path}.{key}" if path else key
            if key not in ours or key not in theirs:
                diffs.append((sub, ours.get(key, _MISSING), theirs.get(key, _MISSING)))
            else:
                diffs.extend(json_diff(ours[key], theirs[key], sub))
        return diffs
    return [] if _same(ours, theirs) else [(path, ours, theirs)]


def _show(value) -> str:
    if value is _MISSING:
        return "absent"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _remote_code_hooks(value, path: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in REMOTE_CODE_KEYS and (key != "trust_remote_code" or sub):
                yield where, sub
            yield from _remote_code_hooks(sub, where)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _remote_code_hooks(sub, f"{path}[{i}]")


# ---------------------------------------------------------------- the reference


@dataclass(frozen=True)
class Reference:
    path: Path
    config: dict
    generation_config: dict | None
    tensors: dict[str, TensorInfo]
    weight_bytes: int
    files: dict[str, int]  # name → size of every regular file
    tokenizer_files: tuple[str, ...]
    json_files: dict[str, object]  # parsed JSON of the reference's config/tokenizer files


def load_reference(path: str | Path) -> Reference:
    """The reference target's config, tokenizer files and tensor headers (no weights read)."""
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


def _limits(reference: Reference, limits: Limits) -> tuple[int, int, Callable[[str], int]]:
    other = sum(s for n, s in reference.files.items() if not n.endswith(".safetensors"))
    total = limits.total_bytes
    if total is None:
        total = int(limits.weight_factor * reference.weight_bytes) + other
        total += limits.other_slack_bytes
    weight_file = total if limits.weight_file_bytes is None else limits.weight_file_bytes

    def other_file(name: str) -> int:
        if limits.other_file_bytes is not None:
            return limits.other_file_bytes
        return reference.files.get(name, 0) + limits.other_slack_bytes

    return total, weight_file, other_file


# ---------------------------------------------------------------- the checks


class _Checker:
    """Collects violations and notes while the checks run in order."""

    def __init__(
        self, root: Path, reference: Reference, limits: Limits, progress: ProgressFactory | None
    ) -> None:
        self.root = root
        self.progress = progress or (lambda _name, _total: lambda _n: None)
        self.ref = reference
        self.limits = limits
        self.violations: list[Violation] = []
        self.notes: list[str] = []
        self.files: dict[str, int] = {}  # regular files that may be read: name → size
        self.unreadable: set[str] = set()  # over a size limit: never opened
        self.tensors_checked = 0
        self.bytes_checked = 0

    def add(self, rule: str, file: str, message: str, tensor: str | None = None) -> None:
        self.violations.append(Violation(rule, file, message, tensor))

    # -- the directory

    def scan_directory(self) -> bool:
        """Classify every entry without following anything; False if there is nothing."""
        entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        if not entries:
            self.add("empty", "", f"{self.root}: the checkpoint directory is empty")
            return False
        for entry in entries:
            name, suffix = entry.name, Path(entry.name).suffix.lower()
            if entry.is_symlink():
                target = os.readlink(entry.path)
                self.add("symlink", name, f"{name} is a symlink (to {target}); links are refused")
            elif entry.is_dir(follow_symlinks=False):
                self.add("unexpected-file", name, f"{name}/ is a sub-directory; none is allowed")
            elif not entry.is_file(follow_symlinks=False):
                self.add("unexpected-file", name, f"{name} is not a regular file")
            elif suffix in PICKLE_SUFFIXES:
                self.add(
                    "pickle-file",
                    name,
                    f"{name}: pickle-based files are refused (not opened); save safetensors",
                )
            elif suffix in CODE_SUFFIXES:
                self.add("python-file", name, f"{name}: code files are refused (not opened)")
            else:
                self.files[name] = entry.stat(follow_symlinks=False).st_size
        return True

    def check_sizes(self) -> bool:
        """Per-file and total limits; False if the total is over (the data is not scanned)."""
        total_limit, weight_limit, other_limit = _limits(self.ref, self.limits)
        for name, size in sorted(self.files.items()):
            limit = weight_limit if name.endswith(".safetensors") else other_limit(name)
            if size > limit:
                self.unreadable.add(name)
                self.add("size", name, f"{name} is {size} bytes, over the limit of {limit} bytes")
        total = sum(self.files.values())
        if total > total_limit:
            self.add(
                "size", "", f"the checkpoint holds {total} bytes, over the limit of {total_limit}"
            )
            return False
        return True

    def readable(self, name: str) -> bool:
        return name in self.files and name not in self.unreadable

    # -- JSON files

    def load_json(self, name: str, rule: str):
        """Parsed JSON of ``name`` (also scanned for remote-code hooks), or None."""
        if not self.readable(name):
            return None
        try:
            value = _read_json(self.root / name, self.files[name])
        except (OSError, ValueError, RecursionError) as err:
            self.add(rule, name, f"{name}: not valid JSON ({' '.join(str(err).split())})")
            return None
        if _depth(value) > MAX_JSON_DEPTH:
            self.add(rule, name, f"{name}: nested deeper than {MAX_JSON_DEPTH} levels")
            return None
        trusted = {
            (p, json.dumps(v, sort_keys=True))
            for p, v in _remote_code_hooks(self.ref.json_files.get(name))
        }
        for where, hook in _remote_code_hooks(value):
            if (where, json.dumps(hook, sort_keys=True)) not in trusted:
                self.add(
                    "remote-code",
                    name,
                    f"{name}: {where} = {_show(hook)} is a remote-code hook; none is allowed",
                )
        return value

    def check_config(self) -> None:
        if CONFIG not in self.files:
            self.add("config", CONFIG, "config.json is missing")
            return
        config = self.load_json(CONFIG, "config")
        if config is None:
            return
        if not isinstance(config, dict):
            self.add("config", CONFIG, "config.json is not a JSON object")
            return
        for where, ours, theirs in json_diff(config, self.ref.config):
            if where.split(".")[0] in CONFIG_MAY_DIFFER:
                continue
            self.add(
                "config",
                CONFIG,
                f"config.json: {where} is {_show(ours)}, the reference has {_show(theirs)}",
            )
        for key in ("dtype", "torch_dtype"):
            value = config.get(key)
            if not (value is None or isinstance(value, str)) or value not in WEIGHT_DTYPES:
                self.add(
                    "config", CONFIG, f"config.json: {key} = {_show(config[key])} is not a float"
                )

    def check_generation_config(self) -> None:
        """Generation settings leak into the scorer's greedy decoding: they must not change."""
        if GENERATION_CONFIG not in self.files:
            return
        ours = self.load_json(GENERATION_CONFIG, "config")
        if ours is None:
            return
        if not isinstance(ours, dict):
            self.add("config", GENERATION_CONFIG, f"{GENERATION_CONFIG} is not a JSON object")
            return
        theirs = self.ref.generation_config
        if theirs is None:  # transformers derives one from config.json: keep to those values
            theirs = {k: self.ref.config.get(k, _MISSING) for k in ours}
            theirs = {k: v for k, v in theirs.items() if v is not _MISSING}
        for where, mine, ref in json_diff(ours, theirs):
            if where.split(".")[0] in GENERATION_MAY_DIFFER:
                continue
            self.add(
                "config",
                GENERATION_CONFIG,
                f"{GENERATION_CONFIG}: {where} is {_show(mine)}, the reference has {_show(ref)}",
            )

    def check_tokenizer(self) -> None:
        for name in self.ref.tokenizer_files:
            if name not in self.files:
                self.add("tokenizer", name, f"{name} (a tokenizer file) is missing")
                continue
            if name.endswith(".json"):
                ours = self.load_json(name, "tokenizer")
                if ours is None:
                    continue
                theirs = self.ref.json_files[name]
                diffs = json_diff(ours, theirs)
                if name == "tokenizer_config.json":
                    diffs = [
                        d for d in diffs if d[0].split(".")[0] not in TOKENIZER_CONFIG_MAY_DIFFER
                    ]
                if diffs:
                    where, mine, ref = diffs[0]
                    self.add(
                        "tokenizer",
                        name,
                        f"{name} differs from the reference's ({len(diffs)} difference(s); "
                        f"first: {where or '(top level)'} is {_show(mine)}, "
                        f"the reference has {_show(ref)})",
                    )
            elif self.readable(name):
                try:
                    offset = _first_difference(self.root / name, self.ref.path / name)
                except OSError as err:
                    self.add("tokenizer", name, f"{name}: unreadable ({err})")
                    continue
                if offset is not None:
                    self.add(
                        "tokenizer",
                        name,
                        f"{name} differs from the reference's (first at byte {offset})",
                    )

    # -- weights

    def weight_layout(self) -> tuple[list[str], dict[str, str] | None]:
        """The shard files a loader would read, and the index's weight map if one is used."""
        shards_present = sorted(n for n in self.files if n.endswith(".safetensors"))
        has_index, has_single = INDEX in self.files, SINGLE in self.files
        if has_single and has_index:
            self.add(
                "index",
                INDEX,
                f"both {SINGLE} and {INDEX}: transformers loads {SINGLE} and ignores the index; "
                "keep one",
            )
        if has_single or not has_index:
            if not has_single:
                self.add("missing-file", SINGLE, f"no weights: neither {SINGLE} nor {INDEX}")
            for name in shards_present:
                if name != SINGLE:
                    self.add("unexpected-file", name, f"{name}: shard without an index ({INDEX})")
            return ([SINGLE] if has_single else []), None
        index = self.load_json(INDEX, "index")
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if index is not None and (
            not isinstance(weight_map, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items())
        ):
            self.add("index", INDEX, f"{INDEX}: no weight_map of tensor name → file name")
        if not isinstance(weight_map, dict) or not all(
            isinstance(v, str) for v in weight_map.values()
        ):
            return [], None
        named: list[str] = []
        for shard in sorted(set(weight_map.values())):
            if shard.startswith(("/", "\\")) or "/" in shard or "\\" in shard or ".." in shard:
                self.add(
                    "path-escape", INDEX, f"{INDEX} names {shard!r}, a path outside the checkpoint"
                )
            elif not SAFE_SHARD_NAME.fullmatch(shard):
                self.add("index", INDEX, f"{INDEX} names {shard!r}, not a safetensors file name")
            elif shard not in self.files:
                self.add("index", INDEX, f"{INDEX} names {shard}, which is missing")
            else:
                named.append(shard)
        for name in shards_present:
            if name not in weight_map.values():
                self.notes.append(f"{name}: not named by {INDEX}, ignored (as loaders do)")
        return named, weight_map

    def check_tensors(self, shards: list[str], weight_map: dict[str, str] | None, scan: bool):
        headers: dict[str, dict[str, TensorInfo]] = {}
        for shard in shards:
            if not self.readable(shard):
                continue
            try:
                headers[shard] = read_header(self.root / shard)
                _library_accepts(self.root / shard)
            except HeaderError as err:
                self.add(err.rule, shard, str(err))
            except OSError as err:
                self.add("not-safetensors", shard, f"{shard}: {' '.join(str(err).split())}")
        found: dict[str, str] = {}  # tensor → shard
        for shard, tensors in headers.items():
            for name in tensors:
                if name in found:
                    self.add(
                        "index", shard, f"{shard}: tensor {name} is also in {found[name]}", name
                    )
                    continue
                found[name] = shard
                if weight_map is not None and weight_map.get(name) != shard:
                    self.add(
                        "index",
                        shard,
                        f"{shard}: tensor {name} is in this file but {INDEX} says "
                        f"{weight_map.get(name, 'nothing')}",
                        name,
                    )
        complete = bool(shards) and len(headers) == len(shards)  # else missing tensors are noise
        if weight_map is not None and complete:
            for name, shard in sorted(weight_map.items()):
                if name not in found and shard in headers:
                    self.add("index", shard, f"{INDEX} puts tensor {name} in {shard}, absent", name)
        self._compare_tensors(headers, found, complete, weight_map or {})
        if scan:
            self._scan(headers)

    def _compare_tensors(self, headers, found, complete: bool, weight_map: dict) -> None:
        if complete:
            for name in sorted(self.ref.tensors.keys() - found.keys()):
                file = weight_map.get(name, next(iter(headers)))
                self.add(
                    "missing-tensor",
                    file,
                    f"{file}: tensor {name} is missing (the reference has it)",
                    name,
                )
        for name, shard in sorted(found.items()):
            ours = headers[shard][name]
            theirs = self.ref.tensors.get(name)
            if theirs is None:
                self.add(
                    "extra-tensor", shard, f"{shard}: tensor {name} is not in the reference", name
                )
                continue
            if ours.shape != theirs.shape:
                self.add(
                    "shape",
                    shard,
                    f"{shard}: tensor {name} has shape {list(ours.shape)}, "
                    f"the reference {list(theirs.shape)}",
                    name,
                )
            floating = theirs.dtype in FLOAT_DTYPES
            if (floating and ours.dtype not in FLOAT_DTYPES) or (
                not floating and ours.dtype != theirs.dtype
            ):
                allowed = "/".join(sorted(FLOAT_DTYPES)) if floating else theirs.dtype
                self.add(
                    "dtype",
                    shard,
                    f"{shard}: tensor {name} is {ours.dtype}, expected {allowed}",
                    name,
                )

    def _scan(self, headers: dict[str, dict[str, TensorInfo]]) -> None:
        total = sum(
            t.end - t.start for h in headers.values() for t in h.values() if t.dtype in FLOAT_DTYPES
        )
        advance = self.progress("finite (MiB)", max(1, math.ceil(total / MiB)))
        seen = 0

        def step(n: int) -> None:  # bytes → whole MiB, the last partial one included
            nonlocal seen
            before = math.ceil(seen / MiB)
            seen += n
            if math.ceil(seen / MiB) > before:
                advance(math.ceil(seen / MiB) - before)

        for shard, tensors in headers.items():
            try:
                for name, bad in scan_finite(
                    self.root / shard, tensors, self.limits.chunk_bytes, step
                ):
                    self.tensors_checked += 1
                    self.bytes_checked += tensors[name].end - tensors[name].start
                    if bad is not None:
                        at = _index_in(tensors[name].shape, bad.first)
                        kinds = " and ".join(
                            f"{count} {label}"
                            for count, label in ((bad.nan, "NaN"), (bad.inf, "Inf"))
                            if count
                        )
                        self.add(
                            "non-finite",
                            shard,
                            f"{shard}: tensor {name} has {kinds} value(s), first at {at}",
                            name,
                        )
            except (OSError, HeaderError) as err:
                self.add("truncated", shard, f"{shard}: {' '.join(str(err).split())}")

    def check_allowed(self, weight_map: dict[str, str] | None) -> None:
        allowed = set(ALWAYS_ALLOWED) | set(self.ref.tokenizer_files)
        if weight_map is not None or INDEX in self.files:
            allowed.add(INDEX)
        allowed.update(n for n in self.files if n.endswith(".safetensors"))  # judged above
        for name in sorted(self.files):
            if name in allowed:
                continue
            why = (
                "a tokenizer file the reference does not have"
                if name in TOKENIZER_FILES
                else "not a file of a Hugging Face causal-LM checkpoint"
            )
            self.add("unexpected-file", name, f"{name}: {why}")


def _library_accepts(path: Path) -> None:
    """A second opinion: the safetensors library itself parses the header (no data read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            handle.keys()
    except Exception as err:  # the library's own errors are not a documented family
        raise HeaderError("not-safetensors", f"{path.name}: {err}") from None


def _first_difference(ours: Path, theirs: Path, chunk: int = MiB) -> int | None:
    fd = _open_regular(ours)
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


def validate_checkpoint(
    checkpoint: str | Path,
    reference: str | Path,
    limits: Limits = Limits(),
    progress: ProgressFactory | None = None,
) -> ValidationReport:
    """Every reason the checkpoint may not be scored, as a report.

    Never raises for a bad checkpoint; raises :class:`ModelError` (exit 2) when the
    reference is unusable or ``checkpoint`` does not exist, is not a directory or cannot
    be listed.
    """
    started = time.perf_counter()
    ref = load_reference(reference)
    root = Path(checkpoint)
    if not os.path.lexists(root):
        raise ModelError(f"checkpoint {root}: does not exist")
    if not root.is_dir():
        raise ModelError(f"checkpoint {root}: not a directory")
    checker = _Checker(root, ref, limits, progress)
    if root.is_symlink():
        checker.add("symlink", "", f"{root} is a symlink; pass the directory itself")
        found = False
    else:
        try:
            found = checker.scan_directory()
        except OSError as err:
            raise ModelError(f"checkpoint {root}: cannot list it: {err}") from err
    if found:
        within_total = checker.check_sizes()
        shards, weight_map = checker.weight_layout()
        checker.check_config()
        checker.check_generation_config()
        checker.check_tokenizer()
        checker.check_allowed(weight_map)
        checker.check_tensors(shards, weight_map, scan=within_total)
        if not within_total:
            checker.notes.append("values not checked for NaN/Inf: the checkpoint is too large")
    return ValidationReport(
        checkpoint=str(root),
        reference=str(ref.path),
        violations=checker.violations,
        tensors_checked=checker.tensors_checked,
        bytes_checked=checker.bytes_checked,
        seconds=time.perf_counter() - started,
        notes=checker.notes,
    )
