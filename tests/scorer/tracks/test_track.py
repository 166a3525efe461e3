"""Tracks as configuration: the bundled files, resolution under a root, bad files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scorer.errors import LumeError
from scorer.tracks.track import load_track, parse_track, resolve, track_names

from paths import DATA_CARDS

CARDS = DATA_CARDS


def card_hub_id(name: str) -> str:
    return re.search(r"^hub_id: (\S+)$", (CARDS / name).read_text(), re.M).group(1)


def test_bundled_tracks():
    assert track_names() == ["1B", "7B", "mini"]


def test_official_tracks_match_the_challenge_and_the_data_cards():
    seven, one = load_track("7B"), load_track("1B")
    for track in (seven, one):
        assert track.time_limit_seconds == 3600 and track.gpus == 8
        assert (track.fold, track.baseline_preset) == ("train", "reference")
        assert track.data.hub_id == card_hub_id("lume-dataset.md")
        assert track.mia.hub_id == track.data.hub_id
        assert track.mmlu.hub_id == "cais/mmlu"
    assert seven.model.hub_id == card_hub_id("olmo-7b-target.md")
    assert one.model.hub_id == card_hub_id("olmo-1b-target.md")
    assert seven.mmlu_threshold == 0.371
    assert one.mmlu_threshold is None  # the 1B track is not filtered


def test_official_track_resolves_under_its_root(tmp_path: Path):
    paths = resolve(load_track("7B"), tmp_path)
    assert paths.model == tmp_path / "olmo-finetuned-semeval25-unlearning"
    assert paths.data == tmp_path / "semeval25-unlearning-dataset-public"
    assert paths.mia == paths.data / "mia_data"
    assert paths.mmlu == tmp_path / "mmlu" and paths.mmlu_threshold == 0.371


def test_mini_track_reads_its_build_manifest(tiny_track: Path):
    track = load_track("mini")
    assert track.gpus == 0 and track.time_limit_seconds == 300
    # one fold, handed to unlearn() and scored: its forget documents are the MIA members
    assert (track.fold, track.baseline_preset) == ("train", "mini")
    paths = resolve(track, tiny_track)
    build = json.loads((tiny_track / "build.json").read_text())
    assert paths.model == tiny_track / build["model_dir"]
    assert paths.data == tiny_track / build["data_dir"]
    assert paths.mia == tiny_track / build["mia_dir"]
    assert paths.mmlu == tiny_track / build["mmlu_dir"]
    assert paths.mmlu_threshold == build["mmlu_threshold"] > 0
    assert (paths.model / "config.json").is_file() and (paths.mia / "member.jsonl").is_file()


def test_mini_track_without_a_build_says_how_to_make_one(tmp_path: Path):
    with pytest.raises(LumeError, match="lume mini build --out"):
        resolve(load_track("mini"), tmp_path)
    (tmp_path / "build.json").write_text(json.dumps({"model_dir": "model"}))
    with pytest.raises(LumeError, match="has no 'data_dir'"):
        resolve(load_track("mini"), tmp_path)


def test_a_track_file_by_path(tmp_path: Path):
    path = tmp_path / "custom.toml"
    text = (Path(load_track("7B").path)).read_text().replace("3600", "1800")
    path.write_text(text.replace('name = "7B"', 'name = "custom"'))
    track = load_track(path)
    assert track.name == "custom" and track.time_limit_seconds == 1800
    with pytest.raises(LumeError, match="no such file"):
        load_track(tmp_path / "absent.toml")
    with pytest.raises(LumeError, match="unknown; expected one of 1B, 7B, mini"):
        load_track("13B")


GOOD = """
name = "t"
time_limit_seconds = 10
[model]
local = "m"
[data]
local = "d"
[mia]
local = "d/mia"
[mmlu]
local = "u"
"""


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.replace('name = "t"', 'name = "t'), "not valid TOML"),
        (lambda t: "colour = 1\n" + t, "unknown key"),
        (lambda t: t.replace("[mmlu]\nlocal", "[mmlu]\npath"), r"\[mmlu\] has unknown key"),
        (lambda t: t.replace('[mmlu]\nlocal = "u"', ""), r"\[mmlu\] is missing"),
        (lambda t: t.replace("= 10", "= -5"), "time_limit_seconds must be a positive number"),
        (lambda t: 'gpus = "8"\n' + t, "gpus must be a whole number"),
        (lambda t: 'fold = "test"\n' + t, "fold must be one of train, validation"),
        (lambda t: 'train_fold = "train"\n' + t, "a track names one fold, handed to unlearn()"),
        (lambda t: "mmlu_threshold = 1.5\n" + t, "mmlu_threshold must be in"),
        (lambda t: t.replace('local = "m"', 'local = "manifest:model_dir"'), "names no manifest"),
        (lambda t: t.replace('name = "t"', "name = 3"), "name must be a non-empty string"),
    ],
)
def test_bad_track_files_are_one_line_errors(change, message, tmp_path: Path):
    assert parse_track(GOOD, tmp_path / "t.toml").name == "t"
    with pytest.raises(LumeError, match=message) as caught:
        parse_track(change(GOOD), tmp_path / "t.toml")
    assert "t.toml" in str(caught.value)


def test_cli_bad_track_is_exit_2(tmp_path: Path):
    from typer.testing import CliRunner

    from scorer.cli.app import app

    bad = tmp_path / "bad.toml"
    bad.write_text("name = ")
    result = CliRunner().invoke(
        app, ["run", str(Path(__file__)), "--track", str(bad), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "not valid TOML" in result.output
    assert not (tmp_path / "o").exists()
