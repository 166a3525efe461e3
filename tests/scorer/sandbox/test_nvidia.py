"""The granted GPUs found by their minor number and UUID, never by assuming minor == index;
their /proc entries kept and the others hidden. The driver and NVML are fakes here: what
needs a real GPU is listed in docs/sandbox.md."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import needs
import pytest

from scorer.errors import LumeError
from scorer.sandbox import bwrap
from scorer.sandbox.nvidia import (
    Gpu,
    device_file,
    from_proc,
    granted_gpus,
    normal_bus,
    parse_information,
    visible_devices,
)

INFORMATION = """Model: \t\t NVIDIA H200
IRQ:   \t\t 150
GPU UUID: \t\t GPU-{uuid}
Video BIOS: \t\t 96.00.74.00.01
Bus Type: \t\t PCIe
Device Minor: \t\t {minor}
Bus Location: \t\t {bus}
"""


@pytest.fixture
def machine(tmp_path: Path):
    """Two GPUs whose minors do not follow the bus order (a third was removed): bus
    0000:3b:00.0 is index 0 with minor 3, 0000:86:00.0 is index 1 with minor 0. The device
    nodes: nvidia0 (minor 0) and nvidia1, which is really minor 3 (a renamed node)."""
    proc, dev = tmp_path / "gpus", tmp_path / "dev"
    for bus, minor, uuid in (("0000:86:00.0", 0, "bbbb"), ("0000:3b:00.0", 3, "aaaa")):
        (proc / bus).mkdir(parents=True)
        (proc / bus / "information").write_text(INFORMATION.format(uuid=uuid, minor=minor, bus=bus))
    dev.mkdir()
    nodes = {"nvidia0": 0, "nvidia1": 3, "nvidiactl": 255}
    for name in nodes:
        (dev / name).touch()

    def stat_of(path: str):
        name = os.path.basename(path)
        if name not in nodes:
            raise FileNotFoundError(path)
        return SimpleNamespace(st_mode=stat.S_IFCHR | 0o666, st_rdev=os.makedev(195, nodes[name]))

    return SimpleNamespace(proc=str(proc), dev=str(dev), stat_of=stat_of)


def test_the_drivers_information_file_is_read():
    fields = parse_information(INFORMATION.format(uuid="x", minor=7, bus="0000:01:00.0"))
    assert fields["Device Minor"] == "7" and fields["GPU UUID"] == "GPU-x"
    assert normal_bus("00000000:3B:00.0") == "0000:3b:00.0" == normal_bus("3b:00.0")


def test_gpus_are_found_by_their_minor_number_not_their_index(machine):
    assert from_proc(machine.proc) == [
        ("0000:3b:00.0", 3, "GPU-aaaa"),
        ("0000:86:00.0", 0, "GPU-bbbb"),
    ]
    first, second = granted_gpus([0, 1], False, machine.proc, machine.dev, machine.stat_of)
    assert first == Gpu(0, "0000:3b:00.0", 3, "GPU-aaaa", f"{machine.dev}/nvidia1")  # renamed
    assert second == Gpu(1, "0000:86:00.0", 0, "GPU-bbbb", f"{machine.dev}/nvidia0")
    assert device_file(5, machine.dev, machine.stat_of) is None
    assert visible_devices([first, second]) == "GPU-aaaa,GPU-bbbb"  # the same GPUs in any numbering
    assert visible_devices([Gpu(2, "b", 2, None, None)]) == "2"


def test_nvml_answers_first_when_it_is_there(machine):
    handles = {0: ("00000000:86:00.0", 0, b"GPU-bbbb")}  # NVML's own order differs here
    nvml = SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda i: handles[i],
        nvmlDeviceGetPciInfo=lambda h: SimpleNamespace(busId=h[0].encode()),
        nvmlDeviceGetMinorNumber=lambda h: h[1],
        nvmlDeviceGetUUID=lambda h: h[2],
    )
    (gpu,) = granted_gpus([0], nvml, machine.proc, machine.dev, machine.stat_of)
    assert gpu == Gpu(0, "0000:86:00.0", 0, "GPU-bbbb", f"{machine.dev}/nvidia0")


def test_an_index_the_machine_lacks_is_bad_input(machine, tmp_path):
    with pytest.raises(LumeError, match=r"--gpus 0,5: no GPU 5 \(this machine has 2 GPU\(s\)"):
        granted_gpus([0, 5], False, machine.proc, machine.dev, machine.stat_of)
    with pytest.raises(LumeError, match="no NVIDIA GPU is visible here"):
        granted_gpus([0], False, str(tmp_path / "absent"), machine.dev, machine.stat_of)
    assert granted_gpus([], False, machine.proc) == []


def test_the_view_shows_the_granted_gpus_sys_and_only_their_proc_entries():
    view = bwrap.View(
        read_only=(), writable=(), devices=("/dev/nvidia3", "/dev/nvidiactl"),
        gpu_proc=("/proc/driver/nvidia/gpus/0000:3b:00.0",),
    )  # fmt: skip
    argv = bwrap.bwrap_argv("bwrap", view, {}, None, ["true"])
    tail = argv[argv.index("--proc") :]
    at = tail.index("--dev-bind")
    assert tail[at : at + 6] == [
        "--dev-bind",
        *["/dev/nvidia3"] * 2,
        "--dev-bind",
        *["/dev/nvidiactl"] * 2,
    ]
    mask = tail.index("--tmpfs")
    assert tail[mask + 1] == "/proc/driver/nvidia/gpus"
    assert tail[mask + 2 : mask + 5] == ["--ro-bind", *view.gpu_proc * 2]
    assert tail[tail.index("/sys") - 1 : tail.index("/sys") + 2] == ["--ro-bind", "/sys", "/sys"]
    bare = bwrap.bwrap_argv("bwrap", bwrap.View((), ()), {}, None, ["true"])
    assert "/sys" not in bare and "/proc/driver/nvidia/gpus" not in bare


@needs.on("bwrap")
def test_masking_a_proc_listing_keeps_only_the_named_entries_under_bwrap():
    """The same mounts on a /proc directory every machine has (/proc/tty): under the
    real bubblewrap only the kept entry is listed, as for the driver's GPU listing."""
    view = bwrap.View(read_only=(), writable=(), gpu_proc=("/proc/tty/ldisc",), cwd="/")
    argv = bwrap.bwrap_argv(bwrap.find_bwrap(), view, {}, None, ["ls", "/proc/tty"])
    if os.geteuid() != 0:
        argv.insert(1, "--unshare-user")
    argv = [a for a in argv if a not in ("--cap-add", *bwrap.KEPT_CAPABILITIES)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ldisc"]
    assert {"driver", "drivers", "ldisc"} <= set(os.listdir("/proc/tty"))
