"""Declared dependencies are the true ones: rouge-score pinned to the version the official
score was checked with, NVML in a ``gpu`` extra and its absence told, the hub's HTTP error
found under either client. (The floors themselves: ``.ci/lowest-direct``.)"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from types import SimpleNamespace

import pytest

from scorer.sandbox import gpu
from starter_kit import hub

from paths import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirement(requirements: list[str], name: str) -> str:
    (found,) = [r for r in requirements if re.match(rf"{name}\s*[=<>!~;\[]", r)]
    return found


def test_rouge_score_is_pinned_exactly_to_the_installed_version():
    """The official ROUGE-L depends on rouge-score's tokenizer and scorer to the letter."""
    pin = _requirement(_project()["dependencies"], "rouge-score")
    assert pin == f"rouge-score=={version('rouge-score')}"


def test_the_gpu_extra_brings_nvml():
    assert _requirement(_project()["optional-dependencies"]["gpu"], "nvidia-ml-py")


def test_a_run_granted_gpus_without_pynvml_is_told_once_and_records_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml: ImportError
    monkeypatch.setattr(gpu, "_told", False)
    first, second = gpu.GpuMonitor([0]), gpu.GpuMonitor([0, 1])
    notices = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert notices == [f"notice: {gpu.NO_PYNVML}"]
    assert "lume-kit[gpu]" in notices[0]
    for monitor in (first, second):
        assert not monitor.active
        record = monitor.result(10.0)
        assert record["why_not"] == gpu.NO_PYNVML
        assert record["gpu_seconds"] is None and record["devices"] is None
        assert record["allocated_gpu_seconds"] == 10.0 * len(monitor.indices)


def test_a_run_granted_no_gpu_gives_no_notice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(gpu, "_told", False)
    assert gpu.GpuMonitor([]).result(1.0)["why_not"] == "no GPU granted"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("client", ["httpx2", "httpx"])
def test_the_hub_http_error_is_found_under_either_client(
    client: str, monkeypatch: pytest.MonkeyPatch
):
    """huggingface_hub 2.x talks through ``httpx2``, 1.x through ``httpx``: a download error
    is a one-line error under both, never ``ModuleNotFoundError``."""
    import huggingface_hub.errors  # noqa: F401 - imported with the real client, then faked

    error = type("HTTPError", (Exception,), {})
    for name in ("httpx2", "httpx"):
        fake = SimpleNamespace(HTTPError=error) if name == client else None
        monkeypatch.setitem(sys.modules, name, fake)
    assert hub._http_error() is error
    assert error in hub._transient()


def test_a_gpu_host_without_pynvml_still_grants_the_gpus_the_driver_lists(
    monkeypatch: pytest.MonkeyPatch,
):
    from scorer.bundle.ingestion import granted_gpus
    from scorer.sandbox import nvidia

    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(nvidia, "from_proc", lambda: [("0000:3b:00.0", 0, None)] * 2)
    assert granted_gpus(1, environ={}) == (0,)
    assert granted_gpus(4, environ={}) == (0, 1)
    monkeypatch.setattr(nvidia, "from_proc", lambda: [])
    assert granted_gpus(1, environ={}) == ()
