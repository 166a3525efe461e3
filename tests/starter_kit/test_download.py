"""``lume download``: the real ``huggingface_hub`` code against a hub on loopback serving
the tiny track's files under the 1B track's repository ids; manifest, verify, mirror,
resume, and the errors a user can act on (one line, exit 2, nothing written)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import constants as hub_constants
from typer.testing import CliRunner

from scorer.data.lume import load_lume
from scorer.data.mmlu import load_mmlu
from scorer.tracks.track import load_track, resolve
from starter_kit import layout
from starter_kit.cli.app import app

from clis import assert_one_line_error
from hub_server import HubRepo, HubServer

TOKEN = "hf_test_token"
TRACK = load_track("1B")
MODEL_ID, DATA_ID, MMLU_ID = TRACK.model.hub_id, TRACK.data.hub_id, TRACK.mmlu.hub_id


@pytest.fixture(scope="module")
def repos(tiny_track: Path) -> dict[tuple[str, str], HubRepo]:
    """The tiny track's model, dataset and MMLU as the 1B track's three hub repositories;
    a pickle file and an ``all/`` MMLU folder the kit must leave on the hub."""
    model = HubRepo.from_dir(tiny_track / "model")
    model.files["pytorch_model.bin"] = b"pickle bytes the kit must not fetch"
    mmlu = HubRepo.from_dir(tiny_track / "mmlu", gated=False)
    mmlu.files["all/test-00000-of-00001.parquet"] = b"the combined subjects: not fetched"
    return {
        ("models", MODEL_ID): model,
        ("datasets", DATA_ID): HubRepo.from_dir(tiny_track / "dataset"),
        ("datasets", MMLU_ID): mmlu,
    }


@pytest.fixture
def server(repos: dict) -> HubServer:
    with HubServer(repos, token=TOKEN, lifetime=120) as running:
        yield running


@pytest.fixture(autouse=True)
def no_user_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token, cache or offline switch of the machine's user leaks into a test."""
    for name in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(hub_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


def _lume(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _files(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in directory.rglob("*")
        if p.is_file() and ".cache" not in p.parts
    }


def _subprocess_env(server: HubServer, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    return {**env, "HF_ENDPOINT": server.url, "HF_HOME": str(home)}


def test_a_full_download_lays_out_the_track_and_a_manifest_that_verifies(
    server: HubServer, repos: dict, tiny_track: Path, tmp_path: Path
):
    root, token_file = tmp_path / "root", tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    lume = [sys.executable, "-m", "starter_kit.cli"]
    env = _subprocess_env(server, tmp_path / "home")  # HF_ENDPOINT names the loopback hub
    args = ["download", "--track", "1B", "--root", str(root), "--token-file", str(token_file)]
    result = subprocess.run([*lume, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    paths = resolve(TRACK, root)  # exactly where --track 1B --root ROOT looks
    assert _files(paths.model) == _files(tiny_track / "model")  # no pytorch_model.bin
    assert _files(paths.data) == _files(tiny_track / "dataset")
    assert _files(paths.mmlu) == _files(tiny_track / "mmlu")  # no all/
    assert len(load_lume(paths.data, "train")["forget"]) > 0
    assert paths.mia.is_dir() and load_mmlu(paths.mmlu)

    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["track"] == "1B"
    by_id = {e["repo_id"]: e for e in manifest["repositories"]}
    assert by_id[MODEL_ID]["commit"] == repos[("models", MODEL_ID)].commit
    assert by_id[DATA_ID]["repo_type"] == "dataset"
    assert by_id[MMLU_ID]["local"] == "mmlu"
    assert {p: m["sha256"] for p, m in by_id[MODEL_ID]["files"].items()} == _files(paths.model)
    weights = by_id[MODEL_ID]["files"]["model.safetensors"]
    assert weights["size"] == (paths.model / "model.safetensors").stat().st_size
    # every call carried the bearer token and none fetched a file the kit does not need
    calls = [r for r in server.requests if "/api/agent-harnesses" not in r.path]  # see hub_server
    assert len(calls) > 19 and [r for r in calls if r.authorization != f"Bearer {TOKEN}"] == []
    assert not [
        r for r in server.requests if r.path.endswith((".bin", "all/test-00000-of-00001.parquet"))
    ]

    verify = [*lume, "download", "--verify", "--root", str(root)]
    result = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "19 files match" in result.stdout, result.stdout
    with open(paths.data / "mia_data" / "member.jsonl", "ab") as f:
        f.write(b"\n")
    (paths.mmlu / "world_crafts" / "dev-00000-of-00001.parquet").unlink()
    result = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "mia_data/member.jsonl: size" in result.stderr
    assert "world_crafts/dev-00000-of-00001.parquet: missing" in result.stderr
    assert "2 of 19 files differ" in result.stderr


def test_a_connection_cut_inside_a_file_is_resumed_with_a_range_request(
    server: HubServer, tiny_track: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # small chunks: the client holds part of the file when the connection is cut
    monkeypatch.setattr(hub_constants, "DOWNLOAD_CHUNK_SIZE", 4096)
    monkeypatch.setattr(time, "sleep", lambda _s: None)  # huggingface_hub's pause before a retry
    size = (tiny_track / "model" / "model.safetensors").stat().st_size
    server.cut(MODEL_ID, "model.safetensors", at=size // 2)
    root = tmp_path / "root"
    args = ["--root", str(root), "--token", TOKEN, "--endpoint", server.url]
    result = _lume("download", "--track", "1B", "--model", *args)
    assert result.exit_code == 0, result.output
    gets = [
        r for r in server.requests if r.method == "GET" and r.path.endswith("model.safetensors")
    ]
    assert len(gets) == 2 and gets[0].range is None
    resumed_at = int(gets[1].range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= size // 2
    model = root / TRACK.model.local
    assert _files(model) == _files(tiny_track / "model")
    assert not (root / TRACK.data.local).exists()  # --model: the model only


def test_an_interrupted_download_fails_in_one_line_and_a_rerun_resumes(
    server: HubServer, tiny_track: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(hub_constants, "DOWNLOAD_CHUNK_SIZE", 4096)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    server.cut(MODEL_ID, "model.safetensors", at=5000, times=100)  # every try is cut
    root = tmp_path / "root"
    args = ["download", "--track", "1B", "--root", str(root), "--token", TOKEN]
    args += ["--endpoint", server.url]
    result = _lume(*args)
    assert result.exit_code == 2
    assert "download interrupted" in result.output and "again to resume" in result.output
    assert not (root / TRACK.model.local / "model.safetensors").exists()
    assert (root / TRACK.model.local / "config.json").is_file()
    assert not (root / TRACK.data.local).exists()  # stopped at the first repository

    server.state.cuts.clear()
    before = len(server.requests)
    result = _lume(*args)
    assert result.exit_code == 0, result.output
    assert "resuming, 4 of 5 files already here" in " ".join(result.output.split())
    again = [r.path for r in server.requests[before:] if "/resolve/" in r.path]
    assert not [p for p in again if p.endswith(("config.json", "tokenizer.json"))]
    assert [p for p in again if p.endswith("model.safetensors")]
    assert _files(root / TRACK.model.local) == _files(tiny_track / "model")
    assert layout.verify(root)[1] == []


def test_a_refused_token_and_a_missing_token_say_where_to_request_access(
    server: HubServer, tmp_path: Path
):
    root = tmp_path / "root"
    common = ["download", "--track", "1B", "--root", str(root), "--endpoint", server.url]
    result = _lume(*common, "--token", "hf_wrong")
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert "token was refused (HTTP 403)" in line
    assert f"request access at {server.url}/{MODEL_ID}" in line
    result = _lume(*common)
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert "is gated and no token was given" in line and "HF_TOKEN" in line
    assert not root.exists()  # nothing written


def test_a_wrong_revision_and_an_unknown_repository_are_one_line_errors(
    server: HubServer, tmp_path: Path
):
    root = tmp_path / "root"
    common = ["--root", str(root), "--token", TOKEN, "--endpoint", server.url]
    result = _lume("download", "--track", "1B", "--model", "--revision", "v9", *common)
    assert result.exit_code == 2
    assert f"{MODEL_ID}: no revision 'v9'" in " ".join(result.output.split())
    toml = tmp_path / "other.toml"
    text = TRACK.path.read_text().replace(MODEL_ID, "someone/absent-model")
    toml.write_text(text)
    result = _lume("download", "--track", str(toml), "--model", *common)
    assert result.exit_code == 2
    assert "someone/absent-model: repository not found" in " ".join(result.output.split())
    assert not root.exists()


def test_a_commit_pins_the_revision_and_hf_token_is_read(
    server: HubServer, repos: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # no --token: the environment's
    commit = repos[("datasets", DATA_ID)].commit
    root = tmp_path / "root"
    args = ["download", "--track", "1B", "--dataset", "--root", str(root)]
    result = _lume(*args, "--revision", commit, "--endpoint", server.url, "--json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)["repositories"]
    assert entry["revision"] == entry["commit"] == commit
    # every call named the commit, never the branch
    called = [r.path for r in server.requests if DATA_ID in r.path]
    assert called and all(commit in path for path in called)
    assert {r.authorization for r in server.requests if DATA_ID in r.path} == {f"Bearer {TOKEN}"}


def test_the_disk_space_is_checked_before_anything_is_downloaded(
    server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(layout, "free_bytes", lambda _path: 10 << 20)  # 10 MiB free
    root = tmp_path / "root"
    result = _lume("download", "--track", "1B", "--root", str(root), "--token", TOKEN,
                   "--endpoint", server.url)  # fmt: skip
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert "not enough disk space" in line and "10.0 MiB free" in line
    assert not [r for r in server.requests if "/resolve/" in r.path]  # listings only
    assert not root.exists()


def test_a_mini_build_is_a_mirror_and_a_download_root_is_one_too(tiny_track: Path, tmp_path: Path):
    first = tmp_path / "first"
    result = _lume("download", "--track", "1B", "--root", str(first), "--mirror", str(tiny_track))
    assert result.exit_code == 0, result.output
    paths = resolve(TRACK, first)
    assert _files(paths.model) == _files(tiny_track / "model")
    assert _files(paths.data) == _files(tiny_track / "dataset")
    second = tmp_path / "second"  # from the first root, checked against its manifest
    result = _lume("download", "--track", "1B", "--root", str(second), "--mirror", str(first))
    assert result.exit_code == 0, result.output
    one, two = (json.loads((r / "manifest.json").read_text()) for r in (first, second))
    assert [e["files"] for e in one["repositories"]] == [e["files"] for e in two["repositories"]]
    # the mini track itself: its build.json comes along, so --track mini --root works
    mini = tmp_path / "mini"
    result = _lume("download", "--track", "mini", "--root", str(mini), "--mirror", str(tiny_track))
    assert result.exit_code == 0, result.output
    assert resolve(load_track("mini"), mini).model == mini / "model"
    assert layout.verify(mini)[1] == []


def test_a_mirror_missing_a_file_is_refused_before_anything_is_copied(
    tiny_track: Path, tmp_path: Path
):
    mirror = tmp_path / "mirror"
    shutil.copytree(tiny_track, mirror)
    (mirror / "dataset" / "data" / "retain_validation-00000-of-00001.parquet").unlink()
    root = tmp_path / "root"
    result = _lume("download", "--track", "1B", "--root", str(root), "--mirror", str(mirror))
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert f"mirror {mirror}: {DATA_ID} lacks data/retain_validation-*.parquet" in line
    assert not root.exists()
    # a mirror with a manifest names the exact file its manifest lists
    full = tmp_path / "full"
    assert _lume("download", "--track", "1B", "--root", str(full), "--mirror", str(tiny_track))
    (full / TRACK.model.local / "tokenizer_config.json").unlink()
    result = _lume("download", "--track", "1B", "--root", str(root), "--mirror", str(full))
    assert result.exit_code == 2
    assert f"{MODEL_ID} lacks tokenizer_config.json" in " ".join(result.output.split())
    assert not root.exists()


def _flip_one_byte(path: Path) -> None:
    """A corruption that keeps the file's size: only its sha256 can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    before = path.stat().st_size
    path.write_bytes(bytes(data))
    assert path.stat().st_size == before


def test_verify_finds_a_same_size_corruption_by_its_sha256(tiny_track: Path, tmp_path: Path):
    root = tmp_path / "root"
    assert _lume("download", "--track", "1B", "--root", str(root), "--mirror", str(tiny_track))
    assert layout.verify(root)[1] == []
    result = _lume("download", "--verify", "--root", str(root))
    assert result.exit_code == 0, result.output
    _flip_one_byte(resolve(TRACK, root).model / "model.safetensors")
    assert [vars(p) for p in layout.verify(root)[1]] == [
        {"local": TRACK.model.local, "path": "model.safetensors", "what": "sha256"}
    ]
    result = _lume("download", "--verify", "--root", str(root))
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"{TRACK.model.local}/model.safetensors: sha256" in output
    assert "1 of 19 files differ" in output


def test_a_mirror_file_that_differs_from_its_manifest_is_refused_before_any_copy(
    tiny_track: Path, tmp_path: Path
):
    mirror = tmp_path / "mirror"  # a download root: its manifest holds every file's sha256
    assert _lume("download", "--track", "1B", "--root", str(mirror), "--mirror", str(tiny_track))
    corrupt = resolve(TRACK, mirror).data / "data" / "forget_train-00000-of-00001.parquet"
    _flip_one_byte(corrupt)  # the second repository: the model's copy would come first
    root = tmp_path / "root"
    result = _lume("download", "--track", "1B", "--root", str(root), "--mirror", str(mirror))
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert f"{DATA_ID}/data/forget_train-00000-of-00001.parquet does not match" in line
    assert "the mirror's manifest (sha256)" in line
    assert not root.exists()  # nothing copied, not even the repositories checked before it


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["download", "--track", "9B"], ["'9B'", "1B, 7B, mini"]),
        (["download", "--track", "mini"], ["built, not downloaded", "lume mini build"]),
        (["download", "--verify", "--root", "nowhere"], ["manifest.json: not found"]),
        (["download", "--token-file", "nowhere/token"], ["--token-file", "cannot read"]),
        (["download", "--mirror", "nowhere"], ["--mirror nowhere: not a directory"]),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needles: list[str], tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "starter_kit.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "300", "HF_HOME": str(tmp_path / "home")},
        timeout=60,
    )
    assert_one_line_error(result, *needles)


def test_the_hub_server_stops_by_itself_and_bounds_its_requests(repos: dict):
    with HubServer(repos, token=TOKEN, lifetime=0.5, max_requests=1) as server:
        api = huggingface_hub.HfApi(endpoint=server.url, token=TOKEN)
        assert api.model_info(MODEL_ID).sha == repos[("models", MODEL_ID)].commit
        with pytest.raises(huggingface_hub.errors.HfHubHTTPError):
            api.model_info(MODEL_ID)  # the second request is over the bound: 429
        time.sleep(1.0)
        assert not server._thread.is_alive()
