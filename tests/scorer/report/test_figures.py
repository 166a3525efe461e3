"""The figures: the ROC curve agrees with the official AUC, and each figure is a real PNG."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scorer.official.metrics import roc_auc
from scorer.report import figures
from scorer.report.loading import load_result


@pytest.mark.parametrize("seed", range(5))
def test_the_roc_curve_encloses_the_official_auc(seed: int):
    rng = random.Random(seed)
    members = [round(rng.gauss(0.5, 1), 1) for _ in range(rng.randint(1, 40))]  # ties
    nonmembers = [round(rng.gauss(0, 1), 1) for _ in range(rng.randint(1, 40))]
    fpr, tpr = figures.roc_points(members, nonmembers)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(roc_auc(members, nonmembers), abs=1e-12)


def test_a_perfect_attack_goes_straight_up():
    fpr, tpr = figures.roc_points([3.0, 2.0], [1.0, 0.0])
    assert list(zip(fpr, tpr)) == [(0, 0), (0, 0.5), (0, 1), (0.5, 1), (1, 1)]


def _image(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_every_figure_is_a_drawn_png(tmp_path: Path, write_result):
    write_result(tmp_path / "a", seed=1)
    write_result(tmp_path / "b", seed=2, leak=0.9)
    a, b = load_result(tmp_path / "a"), load_result(tmp_path / "b")
    subjects = sorted(a.scores["mmlu_details"]["by_subject"])
    drawn = {
        "tasks": figures.components_figure([a, b]),
        "mia": figures.mia_figure(a),
        "mmlu": figures.mmlu_figure([a, b], subjects),
    }
    for name, data in drawn.items():
        pixels = np.asarray(_image(data).convert("L"))
        assert pixels.shape[1] >= 800, name
        assert (pixels < 200).mean() > 0.01, f"{name} is nearly blank"
    assert figures.mia_figure(a) == drawn["mia"]  # same input, same bytes


def test_names_with_dollar_signs_are_drawn_as_written(tmp_path: Path, write_result):
    write_result(tmp_path / "$x_1$ ^{broken")
    result = load_result(tmp_path / "$x_1$ ^{broken")
    _image(figures.components_figure([result]))  # math text would fail to parse it
