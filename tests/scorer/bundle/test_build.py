"""``lume-score bundle``: what goes into the zip per track; bad input is exit 2, nothing written."""

from __future__ import annotations

import json
import struct
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from scorer.bundle.build import build_bundle, execution_time_limit
from scorer.bundle.columns import columns
from scorer.bundle.schema import problems, program_problems
from scorer.data.lume import load_items, load_lume

from clis import assert_one_line_error, probe

KIT = version("lume-kit")


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _cli(tmp_path: Path, *args: str):
    return probe(tmp_path, "scorer.cli", "lume-score", "bundle", *args)


def test_the_mini_bundle_is_a_codabench_v2_bundle(tiny_bundle: Path, tiny_track: Path):
    spec = yaml.safe_load((tiny_bundle / "competition.yaml").read_text())
    files = _files(tiny_bundle)
    assert problems(spec, files) == []
    assert spec["version"] == 2 and spec["image"] == "logo.png"
    assert spec["docker_image"] == f"lume-kit:{KIT}"
    assert spec["phases"][0]["execution_time_limit"] == execution_time_limit(300) == 900
    assert spec["phases"][0]["start"] == "2026-01-01"
    keys = [c["key"] for c in spec["leaderboards"][0]["columns"]]
    assert keys == [c.key for c in columns(gated=True)] and keys[0] == "final_score"
    assert spec["leaderboards"][0]["columns"][0]["sorting"] == "desc"
    for folder, module in (("ingestion_program", "ingestion"), ("scoring_program", "scoring")):
        metadata = yaml.safe_load((tiny_bundle / folder / "metadata.yaml").read_text())
        assert program_problems(folder, metadata) == []
        assert metadata["command"] == f"python3 /app/program/{module}.py"
        launcher = (tiny_bundle / folder / f"{module}.py").read_text()
        assert (
            f'KIT = "{KIT}"' in launcher and f"from scorer.bundle.{module} import main" in launcher
        )
    assert not [f for f in files if Path(f).name == "metadata"]  # the platform's own name
    png = (tiny_bundle / "logo.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (64, 64)


def test_the_mini_bundle_embeds_the_target_and_hands_over_the_tracks_fold(
    tiny_bundle: Path, tiny_track: Path
):
    build = json.loads((tiny_track / "build.json").read_text())
    task = json.loads((tiny_bundle / "input_data" / "lume-task.json").read_text())
    assert task == json.loads((tiny_bundle / "reference_data" / "lume-task.json").read_text())
    assert task["track"] == "mini" and task["fold"] == "train" and task["model"] == "model"
    assert task["time_limit_seconds"] == 300 and task["kit_version"] == KIT
    assert task["mmlu_threshold"] == build["mmlu_threshold"] and task["baseline_preset"] == "mini"
    model = tiny_track / build["model_dir"]
    for name in _files(model):  # byte for byte
        assert (tiny_bundle / "input_data" / "model" / name).read_bytes() == (
            model / name
        ).read_bytes()
    fold = load_lume(tiny_track / build["data_dir"], "train")
    handed = load_items(tiny_bundle / "input_data" / "forget" / "forget.parquet", "forget")
    assert [i.id for i in handed] == [i.id for i in fold["forget"]]
    reference = _files(tiny_bundle / "reference_data")
    assert {f for f in reference if f.startswith("data/")} == {
        "data/forget_train-00000-of-00001.parquet",
        "data/retain_train-00000-of-00001.parquet",
    }  # the scored fold only
    assert {"mia_data/member.jsonl", "mia_data/nonmember.jsonl"} <= reference
    mmlu = {f"mmlu/{f}" for f in _files(tiny_track / build["mmlu_dir"])}
    assert mmlu and mmlu <= reference


def test_the_pages_come_from_the_kits_texts_and_name_the_columns(tiny_bundle: Path):
    pages = {p.name: p.read_text() for p in (tiny_bundle / "pages").iterdir()}
    assert set(pages) == {"overview.md", "evaluation.md", "data.md", "terms.md"}
    assert "exact to the official score" in pages["overview.md"]  # scorer/bundle/about.md
    assert "input_path_to_unlearning_candidate_model" in pages["overview.md"]
    assert "ROUGE-L" in pages["evaluation.md"]  # scorer/bundle/score.md: docs/score.md
    assert all(f"`{c.key}`" in pages["evaluation.md"] for c in columns(gated=True))
    assert "`model/`" in pages["data.md"]


def test_same_inputs_give_the_same_bytes(tiny_track: Path, tmp_path: Path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    build_bundle("mini", tiny_track, first, start="2026-02-03")
    result, heavy = _cli(
        tmp_path, "--track", "mini", "--root", str(tiny_track), "--out", str(second),
        "--start", "2026-02-03", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["files"] > 20 and summary["model"] == "embedded"
    assert summary["execution_time_limit"] == 900 and summary["columns"][0] == "final_score"
    assert first.read_bytes() == second.read_bytes()


@pytest.fixture()
def real_root(public_dir: Path, tiny_track: Path, tmp_path: Path) -> Path:
    """A ``lume download`` root of the 1B/7B tracks without their targets: the real public
    splits, and a small MMLU in the hub layout (the tiny track's)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "semeval25-unlearning-dataset-public").symlink_to(public_dir)
    (root / "mmlu").symlink_to(tiny_track / "mmlu")
    return root


def test_a_1b_bundle_keeps_its_target_in_the_docker_image(
    real_root: Path, codabench, public_dir: Path, tmp_path: Path
):
    summary = build_bundle("1B", real_root, tmp_path / "1b.zip", start="2026-01-01")
    bundle = codabench.unpack(tmp_path / "1b.zip", tmp_path / "1b")
    spec = yaml.safe_load((bundle / "competition.yaml").read_text())
    assert problems(spec, _files(bundle)) == []
    in_image = "/opt/lume/olmo-1B-model-semeval25-unlearning"
    assert summary.model == in_image and spec["docker_image"] == f"lume-kit-1b:{KIT}"
    task = json.loads((bundle / "input_data" / "lume-task.json").read_text())
    assert task["model"] == in_image and task["mmlu_threshold"] is None and task["gpus"] == 8
    assert not (bundle / "input_data" / "model").exists()
    assert spec["phases"][0]["execution_time_limit"] == 7200  # 1 hour, and as much again
    keys = [c["key"] for c in spec["leaderboards"][0]["columns"]]
    assert "mmlu_passed" not in keys and keys == [c.key for c in columns(gated=False)]
    handed = load_items(bundle / "input_data" / "retain" / "retain.jsonl", "retain")
    assert len(handed) == len(load_lume(public_dir, "train")["retain"])
    dockerfile = (bundle / "docker" / "Dockerfile").read_text()
    assert "lume download --track 1B --root /opt/lume" in dockerfile
    assert f"lume-kit=={KIT}" in dockerfile
    assert in_image in (bundle / "pages" / "data.md").read_text()


def test_the_help_answers_without_torch(tmp_path: Path):
    result, heavy = _cli(tmp_path, "--help")
    assert result.returncode == 0 and "Codabench" in result.stdout
    assert heavy == []


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--track", "nope"], ["track 'nope': unknown"]),
        (["--track", "mini", "--root", "{tmp}/absent"], ["--root", "no such directory"]),
        (["--track", "mini", "--root", "{tmp}"], ["build.json not found"]),
        (["--track", "mini", "--root", "{tmp}", "--start", "soon"], ["--start 'soon'"]),
        (["--track", "mini", "--out", "{tmp}/b.tar"], ["expected a .zip"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(args, needles, tmp_path: Path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "bundle.zip")]
    result, heavy = _cli(tmp_path, *args)
    assert_one_line_error(result, *needles)
    assert heavy == []
    assert not list(tmp_path.glob("*.zip")) and not list(tmp_path.glob(".*tmp"))


def test_an_existing_out_is_never_overwritten(tiny_track: Path, tmp_path: Path):
    out = tmp_path / "bundle.zip"
    out.write_bytes(b"keep")
    result, _ = _cli(tmp_path, "--track", "mini", "--root", str(tiny_track), "--out", str(out))
    assert_one_line_error(result, f"--out {out}: exists")
    assert out.read_bytes() == b"keep"


def test_a_real_track_without_its_mmlu_is_refused(real_root: Path, tmp_path: Path):
    (real_root / "mmlu").unlink()
    out = tmp_path / "7b.zip"
    result, _ = _cli(tmp_path, "--track", "7B", "--root", str(real_root), "--out", str(out))
    assert_one_line_error(result, str(real_root / "mmlu"), "directory not found")
    assert not out.exists()
