"""``lume-score batch``: help at once (no torch, no Ray), bad input one line and exit 2,
nothing written."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from scorer.batch.driver import address_endpoint, check_reachable
from scorer.errors import LumeError

from clis import assert_one_line_error, probe
from paths import REPO


def _probe(tmp_path: Path, *args: str, timeout: float | None = None):
    return probe(tmp_path, "scorer.cli", "lume-score", "batch", *args, timeout=timeout)


def test_help_explains_and_imports_nothing_heavy(tmp_path):
    result, heavy = _probe(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for needle in ("--address", "--max-parallel", "--retries", "state.json", "leaderboard"):
        assert needle in result.stdout
    assert heavy == []


def _subs(tmp_path: Path, kind: str) -> Path:
    subs = tmp_path / "subs"
    subs.mkdir()
    if kind == "no .py":
        (subs / "readme.md").write_text("x")
    elif kind == "bad row":
        (subs / "a.py").write_text("def unlearn(a, b, c, d): pass\n")
        manifest = subs / "subs.toml"
        manifest.write_text('[[submission]]\nteam = "a"\nfile = "a.py"\nfiel = "b.py"\n')
        return manifest
    return subs


@pytest.mark.parametrize(
    ("kind", "track", "needles"),
    [
        ("empty", "mini", ["subs: empty directory"]),
        ("no .py", "mini", ["holds no .py file"]),
        ("bad row", "mini", ["subs.toml: submission 1: unknown field(s) fiel"]),
        ("empty", "8B", ["8B"]),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, kind, track, needles):
    out = tmp_path / "results"
    args = (str(_subs(tmp_path, kind)), "--track", track, "--out", str(out))
    result, heavy = _probe(tmp_path, *args)
    assert_one_line_error(result, *needles)
    assert heavy == [] and not out.exists()


def test_argument_errors_are_one_line(tmp_path):
    result, _ = _probe(tmp_path, str(tmp_path), "--out", "o")
    assert_one_line_error(result, "Missing option '--track'")
    result, _ = _probe(tmp_path, str(tmp_path), "--track", "mini", "--out", "o", "--retries", "-1")
    assert_one_line_error(result, "--retries")


def test_a_queue_of_another_track_or_a_foreign_directory_is_refused(tmp_path, tiny_track):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.py").write_text("def unlearn(a, b, c, d): pass\n")
    results = tmp_path / "results"
    results.mkdir()
    settings = {"format": 1, "settings": {"track": "7B"}}
    (results / "batch.json").write_text(json.dumps(settings))
    common = ("--track", "mini", "--root", str(tiny_track), "--isolation", "none")
    result, heavy = _probe(tmp_path, str(subs), "--out", str(results), *common)
    assert_one_line_error(result, "holds the queue of track '7B', not 'mini'", "another --out")
    assert heavy == []  # refused before a model or Ray was touched
    assert json.loads((results / "batch.json").read_text()) == settings
    assert not (results / "a").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result, _ = _probe(tmp_path, str(subs), "--out", str(foreign), *common)
    assert_one_line_error(result, "not empty and holds no batch.json")


@contextlib.contextmanager
def _refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs: bound by this
    process, never listening. Held, not bound and released: a released port can be taken
    by any server started meanwhile on a busy machine (a test's Ray instance, a hub on
    loopback), and the command would then join or hang on whatever took it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def test_a_held_port_cannot_be_taken_by_another_server():
    with _refusing_port() as port, socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        with pytest.raises(OSError, match="Address already in use"):
            other.bind(("127.0.0.1", port))


# Generous, for a loaded machine: idle, the command answers in about 15 s (the interpreter,
# the track's checks); the 2 cores shared with a CPU hog make that several times longer.
# "At once" is proven by the message, which only the check before ray.init writes (ray.init
# itself would retry the address for minutes, and say something else).
ANSWER_SECONDS = 300


def test_an_address_where_nothing_listens_is_one_line_at_once(tmp_path, tiny_track):
    """ray.init would retry such an address for minutes: refused before Ray is joined."""
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(REPO / "baselines" / "ga.py", subs / "ga.py")
    out = tmp_path / "results"
    args = (str(subs), "--track", "mini", "--root", str(tiny_track), "--out", str(out))
    with _refusing_port() as port:
        address = f"127.0.0.1:{port}"
        result, _ = _probe(tmp_path, *args, "--address", address, timeout=ANSWER_SECONDS)
    assert_one_line_error(result, f"--address {address}", "nothing accepts a connection")
    assert not out.exists()


@pytest.mark.parametrize(
    ("address", "endpoint"),
    [
        ("127.0.0.5:6379", ("127.0.0.5", 6379)),
        ("ray://head.example:10001", ("head.example", 10001)),
        ("[::1]:6379", ("::1", 6379)),
        ("auto", None),
        ("local", None),
        ("head-without-port", None),
    ],
)
def test_address_endpoint(address, endpoint):
    assert address_endpoint(address) == endpoint


def test_a_listening_address_passes_the_check():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable(f"127.0.0.1:{server.getsockname()[1]}")  # no error
    with _refusing_port() as port, pytest.raises(LumeError, match="nothing accepts a connection"):
        check_reachable(f"127.0.0.1:{port}")
