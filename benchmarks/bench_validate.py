"""Streaming checkpoint validation vs loading the whole file, on a 7B-like safetensors file.

Generates one ``model.safetensors`` of ``--gb`` gigabytes (a [50304, 4096] embedding and
7B-like attention/MLP matrices) plus a reference directory with the same header (a sparse
file: no disk used), then measures, each in a fresh subprocess after the page cache is
warm: ``lume-score validate``'s streaming check and the naive one
(``safetensors.torch.load_file`` then ``torch.isfinite``). Prints seconds and the peak RSS
increase of each, and the ratios. Generated files are removed at the end.

    python benchmarks/bench_validate.py --gb 2 --dtype float32
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HIDDEN, MLP, VOCAB = 4096, 11008, 50304
LAYER_SHAPES = (
    ("self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
    ("self_attn.k_proj.weight", (HIDDEN, HIDDEN)),
    ("self_attn.v_proj.weight", (HIDDEN, HIDDEN)),
    ("self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
    ("mlp.gate_proj.weight", (MLP, HIDDEN)),
    ("mlp.up_proj.weight", (MLP, HIDDEN)),
    ("mlp.down_proj.weight", (HIDDEN, MLP)),
)
SAFETENSORS_DTYPE = {"float32": ("F32", 4), "bfloat16": ("BF16", 2)}


def plan(gigabytes: float, width: int) -> list[tuple[str, tuple[int, int]]]:
    """The embedding, then whole layers' matrices until the size is reached."""
    tensors = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    size, layer = VOCAB * HIDDEN * width, 0
    while size < gigabytes * 1e9:
        for suffix, shape in LAYER_SHAPES:
            if size >= gigabytes * 1e9:
                break
            tensors.append((f"model.layers.{layer}.{suffix}", shape))
            size += math.prod(shape) * width
        layer += 1
    return tensors


def header_bytes(tensors, code: str, width: int) -> bytes:
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors:
        end = offset + math.prod(shape) * width
        header[name] = {"dtype": code, "shape": list(shape), "data_offsets": [offset, end]}
        offset = end
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw


def generate(root: Path, gigabytes: float, dtype: str) -> tuple[Path, Path, int]:
    """Checkpoint (random values, written in row blocks) and its sparse reference."""
    import torch

    code, width = SAFETENSORS_DTYPE[dtype]
    tensors = plan(gigabytes, width)
    head = header_bytes(tensors, code, width)
    config = {"architectures": ["OlmoForCausalLM"], "hidden_size": HIDDEN, "vocab_size": VOCAB}
    config |= {"intermediate_size": MLP, "num_hidden_layers": 1 + len(tensors) // 7}
    ckpt, ref = root / "ckpt", root / "reference"
    for directory in (ckpt, ref):
        directory.mkdir(parents=True)
        (directory / "config.json").write_text(json.dumps(config, indent=2))
    generator = torch.Generator().manual_seed(0)
    with open(ckpt / "model.safetensors", "wb") as out:
        out.write(head)
        for _, (rows, cols) in tensors:
            for start in range(0, rows, 1024):
                block = torch.randn(min(1024, rows - start), cols, generator=generator) * 0.02
                out.write(block.to(getattr(torch, dtype)).view(torch.uint8).numpy().tobytes())
    size = (ckpt / "model.safetensors").stat().st_size
    with open(ref / "model.safetensors", "wb") as out:
        out.write(head)
        out.truncate(size)  # sparse: same header, no data on disk
    return ckpt, ref, size


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as handle:
        while handle.read(64 << 20):
            pass


def measure(method: str, ckpt: Path, ref: Path) -> dict:
    """Runs in a fresh process: seconds and peak RSS increase of one method.

    Linux: the peak (VmHWM) is reset after the imports and compared with the RSS then.
    Elsewhere: the increase of ``ru_maxrss``, which an import-time peak may hide.
    """
    import torch
    from safetensors.torch import load_file

    from scorer.checkpoint.validate import validate_checkpoint
    from scorer.procfs import peak_rss_bytes, reset_peak_rss, rss_bytes

    exact = reset_peak_rss()
    before = (rss_bytes() if exact else None) or peak_rss_bytes()
    start = time.perf_counter()
    if method == "streaming":
        report = validate_checkpoint(ckpt, ref)
        ok = report.ok and report.tensors_checked > 0
    else:
        tensors = load_file(str(ckpt / "model.safetensors"))
        ok = all(bool(torch.isfinite(t).all()) for t in tensors.values())
    seconds = time.perf_counter() - start
    return {"ok": ok, "seconds": seconds, "rss_increase": peak_rss_bytes() - before}


def run_child(method: str, ckpt: Path, ref: Path) -> dict:
    argv = [sys.executable, __file__, "--measure", method, str(ckpt), str(ref)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(size: int, results: dict[str, dict], dtype: str, chunk: int) -> str:
    names = {"streaming": "lume-score validate (streaming)", "naive": "load_file + isfinite"}
    lines = [
        f"one {dtype} shard, warm page cache; streaming reads {chunk >> 20} MiB chunks",
        f"{'method':<32} {'on disk':>8} {'seconds':>8} {'GB/s':>6} {'peak RSS +':>11} "
        f"{'RSS+/size':>9}",
    ]
    for method, r in results.items():
        lines.append(
            f"{names[method]:<32} {size / 1e9:>5.2f} GB {r['seconds']:>8.2f} "
            f"{size / 1e9 / r['seconds']:>6.2f} {r['rss_increase'] / 2**20:>7.0f} MiB "
            f"{r['rss_increase'] / size:>9.3f}"
        )
    stream, naive = results["streaming"], results["naive"]
    lines.append(
        f"naive / streaming: {naive['seconds'] / stream['seconds']:.1f}x the time, "
        f"{naive['rss_increase'] / max(stream['rss_increase'], 2**20):.0f}x the peak memory"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="size of the generated file")
    parser.add_argument("--dtype", choices=sorted(SAFETENSORS_DTYPE), default="float32")
    parser.add_argument("--dir", type=Path, default=None, help="where to generate (a temp dir)")
    parser.add_argument(
        "--measure", nargs=3, metavar=("METHOD", "CKPT", "REF"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        method, ckpt, ref = args.measure
        print(json.dumps(measure(method, Path(ckpt), Path(ref))))
        return
    from scorer.checkpoint.limits import Limits

    root = Path(tempfile.mkdtemp(prefix="bench-validate-", dir=args.dir))
    try:
        started = time.perf_counter()
        ckpt, ref, size = generate(root, args.gb, args.dtype)
        print(f"generated {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f}s", flush=True)
        warm(ckpt / "model.safetensors")
        results = {m: run_child(m, ckpt, ref) for m in ("streaming", "naive")}
        assert all(r["ok"] for r in results.values()), results
        print(table(size, results, args.dtype, Limits().chunk_bytes))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
