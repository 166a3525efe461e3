"""The report of real scorer outputs, rendered in headless Chromium: every figure loads, the
page is not blank, and the items filter works in a real browser.

The submission is the tiny track's target with its weights perturbed, scored at two
"steps" by ``evaluate`` (a series of checkpoints), compared with the target itself; its
``run.json`` is written by hand (a sandboxed run is not what is tested here).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import needs
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from scorer.evaluation.evaluate import evaluate
from scorer.evaluation.settings import EvalSettings
from scorer.report import write_report
from starter_kit.mini.build import read_build

from scoring import track_paths

WIDTH, HEIGHT = 1280, 3200
STEPS = {10: 0.05, 20: 0.5}  # step: noise added to the weights, relative to their spread


def _perturbed(model_dir: Path, out: Path, scale: float) -> Path:
    shutil.copytree(model_dir, out)
    generator = torch.Generator().manual_seed(int(scale * 1000))
    for path in out.glob("*.safetensors"):
        tensors = load_file(path)
        for name, t in tensors.items():
            if t.is_floating_point() and t.numel() > 1:
                noise = torch.randn(t.shape, generator=generator, dtype=t.dtype)
                tensors[name] = t + scale * t.std() * noise
        save_file(tensors, path, metadata={"format": "pt"})
    return out


@pytest.fixture(scope="module")
def report(tiny_track: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    p = track_paths(tiny_track)
    fold = read_build(tiny_track)["scored_fold"]
    settings = EvalSettings(fold=fold, unlearned_fold=fold, max_new_tokens=12, bootstrap=20)
    common = dict(mia_dir=p["mia_dir"], mmlu_dir=p["mmlu_dir"], settings=settings)
    evaluate(p["model_dir"], p["data_dir"], root / "target", **common)
    for step, scale in STEPS.items():
        model = _perturbed(p["model_dir"], root / "models" / str(step), scale)
        evaluate(model, p["data_dir"], root / "npo" / f"checkpoint-{step}", **common)
    run = {"status": "ok", "reason": None, "scored": True, "wall_seconds": 95.5,
           "time_limit_seconds": 120.0, "cpu_seconds": 180.0, "peak_memory_bytes": 2**31,
           "gpu": None}  # fmt: skip
    (root / "npo" / "run.json").write_text(json.dumps(run))
    return write_report(root / "npo", root / "report.html", [root / "target"])


def _browse(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    command = [
        needs.chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", *args, url,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_evaluate_records_mmlu_by_subject(report: Path):
    scores = json.loads((report.parent / "target" / "scores.json").read_text())
    details = scores["mmlu_details"]
    counts = details["by_subject"]
    assert len(counts) == details["subjects"] and list(counts) == sorted(counts)
    assert sum(c["questions"] for c in counts.values()) == details["questions"]
    assert sum(c["correct"] for c in counts.values()) / details["questions"] == scores["mmlu"]


@needs.on("chromium")  # checked before the report is built
def test_every_figure_loads_in_chromium(report: Path, tmp_path: Path):
    html = report.read_text(encoding="utf-8")
    figures = html.count("<img ")
    assert figures == 5  # tasks, an MIA figure per result, MMLU by subject, the steps
    dom = _browse(tmp_path, report.as_uri(), "--dump-dom").stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert f'data-figures-loaded="{figures}/{figures}"' in body


@needs.on("chromium")  # checked before the report is built
def test_the_page_is_drawn_with_its_figures(report: Path, tmp_path: Path):
    shot = tmp_path / "report.png"
    _browse(tmp_path, report.as_uri(), f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    assert (pixels.sum(axis=2) < 600).mean() > 0.05, "the page is nearly blank"

    def near(rgb: tuple[int, int, int]) -> int:
        return int((np.abs(pixels - np.array(rgb)).sum(axis=2) < 30).sum())

    # matplotlib's first two colours (the submission's and the target's bars) are painted
    assert near((31, 119, 180)) > 2000 and near((255, 127, 14)) > 2000


@needs.on("chromium")  # checked before the report is built
def test_the_items_filter_works_in_the_browser(report: Path, tmp_path: Path):
    items = [json.loads(x) for x in (report.parent / "npo" / "checkpoint-20" / "items.jsonl")
             .read_text().splitlines()]  # fmt: skip
    wanted = [i for i in items if i["split"] == "retain" and i["task"] == "Task2"]
    assert 0 < len(wanted) < len(items)
    dom = _browse(tmp_path, report.as_uri() + "#split=retain&task=Task2", "--dump-dom").stdout
    rows = re.findall(r'<tr data-split="(\w+)" data-task="(\w+)" data-kind="\w+"( hidden="")?>',
                      dom)  # fmt: skip
    assert len(rows) == len(items)
    shown = [(split, task) for split, task, hidden in rows if not hidden]
    assert shown == [("retain", "Task2")] * len(wanted)
    assert f'data-shown="{len(wanted)}"' in dom
    assert f"{len(wanted)} of {len(items)} items" in dom
