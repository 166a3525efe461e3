"""The submission's view as a bubblewrap command line, and the seccomp program it loads."""

from __future__ import annotations

import os
import subprocess

import needs

from scorer.sandbox import bwrap
from scorer.sandbox.seccomp import DENIED, compile_filter, filter_fd

from paths import REPO

VIEW = bwrap.View(
    read_only=(("/opt/py", "/opt/py"), ("/w/inputs/model", "/lume/model")),
    writable=(("/w/outbox", "/lume/outbox"),),
    devices=("/dev/nvidia1",),
    tmpfs_bytes=1000,
)


def _pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == flag]


def test_the_command_line_is_a_whitelist_in_new_namespaces():
    argv = bwrap.bwrap_argv("bwrap", VIEW, {"/etc/passwd": "/w/control/passwd"}, "7", ["py"])
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                 "--die-with-parent", "--new-session"):  # fmt: skip
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    ro = {target: source for source, target in _pairs(argv, "--ro-bind")}
    allowed = {"/usr", "/etc/ld.so.cache", "/etc/passwd", "/opt/py", "/lume/model"}
    assert set(ro) <= allowed | {"/sys"}  # /sys (read-only) only because a GPU is granted
    assert ro["/lume/model"] == "/w/inputs/model" and ro["/etc/passwd"] == "/w/control/passwd"
    assert _pairs(argv, "--bind") == [("/w/outbox", "/lume/outbox")]
    assert _pairs(argv, "--dev-bind") == [("/dev/nvidia1", "/dev/nvidia1")]
    tmpfs = [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]
    assert tmpfs == ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock"]
    assert argv.count("--size") == len(tmpfs) and argv[argv.index("--size") + 1] == "1000"
    assert argv[argv.index("--seccomp") + 1] == "7"
    assert argv[-2:] == ["--", "py"] and argv[argv.index("--chdir") + 1] == "/lume"


def test_parent_directories_are_created_traversable_parents_first():
    dirs = bwrap.parent_directories(["/lume/outbox", "/root/.pyenv/v/3", "/etc/passwd", "/usr/x"])
    assert dirs == ["/etc", "/lume", "/root", "/root/.pyenv", "/root/.pyenv/v"]


def test_the_interpreter_paths_are_packages_never_the_repository_or_the_tests():
    paths = bwrap.interpreter_paths()
    assert str(REPO) not in paths and str(REPO / "tests") not in paths
    assert str(REPO / "scorer") in paths  # the kit's own package, by its directory
    assert bwrap.outermost(["/a/b", "/a", "/ab", "/a/b/c"]) == ["/a", "/ab"]


def test_the_etc_files_name_only_root_and_the_run_user():
    files = bwrap.etc_files(2100000001, 2100000001)
    assert files["/etc/passwd"].splitlines()[1].startswith("lume:x:2100000001:2100000001:")
    assert len(files["/etc/passwd"].splitlines()) == 2 and "lume" in files["/etc/group"]


@needs.on("bwrap")
def test_the_seccomp_program_denies_the_listed_calls_under_bwrap():
    program, how = compile_filter()
    assert program is not None and len(program) % 8 == 0, how  # classic BPF: 8-byte steps
    fd = filter_fd(program)
    probe = (
        "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
        "print(libc.unshare(0x20000), ctypes.get_errno(), libc.ptrace(0, 0, 0, 0), "
        "ctypes.get_errno(), open('/proc/self/status').read().count('Seccomp:\\t2'))"
    )
    argv = [bwrap.find_bwrap(), "--ro-bind", "/", "/", "--unshare-user", "--seccomp", str(fd)]
    argv += ["--", "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"]
    result = subprocess.run(
        [*argv, "-c", probe], pass_fds=(fd,), capture_output=True, text=True, timeout=60
    )
    os.close(fd)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-1", "1", "-1", "1", "1"]  # EPERM, EPERM, filtered
    assert {"ptrace", "mount", "unshare", "keyctl", "bpf", "perf_event_open"} <= set(DENIED)


@needs.on("bwrap")
def test_a_package_under_tmp_stays_reachable_above_the_private_tmp(tmp_path):
    """A kit installed under /tmp (a clone there, installed editable): its directories
    are bound after the private /tmp is mounted, and their parents are made again above
    it, traversable (bwrap would make them 0700, closed to the run's user)."""
    package = tmp_path / "clone" / "baselines"
    package.mkdir(parents=True)
    view = bwrap.View(read_only=((str(package), str(package)),), writable=(), cwd="/")
    command = ["stat", "-c", "%a", str(package.parent), str(tmp_path)]
    argv = bwrap.bwrap_argv(bwrap.find_bwrap(), view, {}, None, command)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["755", "755"]
