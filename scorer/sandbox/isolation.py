"""What the submission's process may see: its environment, its user, its network, its files.

The runner decides (``scrubbed_environment``, ``plan_isolation`` with ``plan_mounts``) and
the child carries it out (``isolate``) as root, before it imports the submission:
- an allow-listed environment: tokens, credentials, proxies and cloud keys never pass;
- its own network namespace (only ``lo``, brought up for NCCL/gloo rendezvous);
- its own mount namespace: fresh, private ``/tmp``, ``/var/tmp`` and ``/dev/shm``, the
  judge's held-out directories covered by empty tmpfs, and directories the unprivileged
  user cannot enter (``/root`` when the interpreter lives there) replaced by a tmpfs
  that shows only what the child needs (the interpreter, the packages, the work dir);
- an unprivileged user (``nobody``) with no supplementary groups and no way back
  (``PR_SET_NO_NEW_PRIVS``), so that root-only files (0600) stay out of reach.
Each step that fails is recorded with its reason; the caller reports what was obtained.
Standard library only.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from scorer.sandbox import linux

# Variables passed through when present (names or prefixes ending in "_").
KEEP_NAMES = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "LD_LIBRARY_PATH", "CUDA_HOME")
KEEP_PREFIXES = ("LC_", "OMP_", "MKL_", "OPENBLAS_", "NCCL_", "CUDA_", "NVIDIA_", "PYTORCH_")
# Never passed, even when allow-listed or asked for.
SECRET = re.compile(
    r"TOKEN|SECRET|PASSW|CREDENTIAL|COOKIE|SESSION|AUTH|PRIVATE|(^|_)KEY(_|$)|KEYS?$|"
    r"^AWS_|^AZURE_|^GOOGLE_|^GCP_|^GCLOUD|^OPENAI|^ANTHROPIC|^HF_|^HUGGING|PROXY|^SSH_|^GPG_|"
    r"^GIT_|^DOCKER_|^KUBE|^VAULT_|^NETRC|^PGPASS|^MYSQL_PWD|^WANDB_|^NEPTUNE_|^COMET_",
    re.IGNORECASE,
)

TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # replaced by fresh, private tmpfs (mode 1777)
RUN_ID_VARIABLE = "LUME_RUN_ID"  # marks every process of a run (last-resort /proc scan)


@dataclass(frozen=True)
class RunUser:
    """The unprivileged account a root runner drops the submission to."""

    name: str
    uid: int
    gid: int


def is_secret(name: str) -> bool:
    """Whether an environment variable's name looks like it holds a secret: such a
    variable never reaches a submission, whatever the allow-list or ``--pass-env`` say."""
    return bool(SECRET.search(name))


def scrubbed_environment(
    parent: Mapping[str, str],
    home: str,
    tmpdir: str,
    gpus: list[int],
    run_id: str,
    passthrough: tuple[str, ...] = (),
) -> dict[str, str]:
    """The child's whole environment: the allow-list, minus secrets, plus what we set."""
    env = {
        name: value
        for name, value in parent.items()
        if (name in KEEP_NAMES or name.startswith(KEEP_PREFIXES) or name in passthrough)
        and not is_secret(name)
    }
    env.update(
        HOME=home,
        TMPDIR=tmpdir,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        CUDA_DEVICE_ORDER="PCI_BUS_ID",  # CUDA's indices = NVML's = the granted ones
        CUDA_VISIBLE_DEVICES=",".join(str(g) for g in gpus),
    )
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env[RUN_ID_VARIABLE] = run_id
    return env


def can_traverse(st: os.stat_result, uid: int, gid: int) -> bool:
    """Whether ``uid``/``gid`` (no supplementary groups) may enter a directory."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _outermost(paths: list[str]) -> list[str]:
    """Drop the paths that lie under another one; sorted, duplicates removed."""
    kept: list[str] = []
    for path in sorted(set(paths), key=lambda p: (len(PurePosixPath(p).parts), p)):
        if not any(_under(path, k) for k in kept):
            kept.append(path)
    return kept


def blocked_ancestors(path: str, uid: int, gid: int, stat_fn=os.stat) -> list[str]:
    """The ancestors of ``path`` (itself included) that ``uid`` cannot enter."""
    blocked, current = [], PurePosixPath("/")
    for part in PurePosixPath(path).parts[1:]:
        current = current / part
        try:
            if not can_traverse(stat_fn(str(current)), uid, gid):
                blocked.append(str(current))
        except OSError:
            break
    return blocked


def plan_mounts(
    needed: list[str],
    hide: list[str],
    uid: int | None,
    gid: int | None,
    stat_fn=os.stat,
) -> dict:
    """Which directories to cover with tmpfs and which to show again through them.

    ``needed`` are directories the child must reach at the same paths (interpreter,
    packages, work dir); ``hide`` are directories it must not see (tmp dirs, held-out
    data). When the child will run as ``uid``, every directory on the way to a needed
    one that ``uid`` cannot enter is covered too, and the needed ones are shown again.
    Hidden directories inside a shown one are covered last, on top of it.
    """
    needed = _outermost([os.path.realpath(p) for p in needed] + list(needed))
    hide = [os.path.realpath(h) for h in hide]
    covers = list(hide)
    if uid is not None and gid is not None:
        for path in needed:
            blocked = blocked_ancestors(path, uid, gid, stat_fn)
            if blocked:
                covers.append(blocked[0])
    covers = _outermost(covers)
    expose = [p for p in needed if any(_under(p, c) for c in covers)]
    later = _outermost([h for h in hide if any(_under(h, e) and h != e for e in expose)])
    tmp_like = {os.path.realpath(t) for t in TMP_DIRS}

    def cover(path: str) -> dict:
        return {"path": path, "mode": 0o1777 if path in tmp_like else 0o755}

    return {
        "cover": [cover(c) for c in covers],
        "expose": expose,
        "cover_after": [cover(c) for c in later],
    }


def plan_isolation(
    namespaces: bool, user: RunUser | None, needed: list[str], hide: list[str]
) -> dict:
    """The child's whole isolation plan, as JSON for :func:`isolate`: whether to enter
    namespaces, whom to become (and why nobody, when no one), what to cover and show."""
    return {
        "namespaces": namespaces,
        "user": asdict(user) if user else None,
        "why_no_user": "the runner is not root" if os.geteuid() != 0 else "--user root",
        "mounts": plan_mounts(needed, hide, user.uid if user else None, user.gid if user else None),
    }


def interpreter_paths() -> list[str]:
    """Directories the child's interpreter and packages are read from."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the scorer's root
    paths.add(here)
    return sorted(paths)


# ---------------------------------------------------------------- in the child, as root


def _enter_namespaces(report: dict) -> bool:
    """New mount + network namespaces; through a user namespace when not root."""
    flags = linux.CLONE_NEWNS | linux.CLONE_NEWNET
    try:
        if os.geteuid() == 0:
            linux.unshare(flags)
        else:
            uid, gid = os.getuid(), os.getgid()
            linux.unshare(flags | linux.CLONE_NEWUSER)
            linux.write_id_maps(uid, gid)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    except OSError as err:
        report["network"] = {"cut": False, "why": f"{err.strerror or err} (unshare)"}
        report["mounts"]["errors"].append(f"no mount namespace: {err.strerror or err}")
        return False
    try:
        linux.loopback_up()
        report["network"] = {"cut": True, "how": "own network namespace (only lo, up)"}
    except OSError as err:
        report["network"] = {"cut": True, "how": f"own network namespace (lo down: {err})"}
    return True


def _cover(covers: list[dict], report: dict) -> None:
    for cover in covers:
        path, mode = cover["path"], cover["mode"]
        if not os.path.isdir(path):
            continue
        try:
            options = f"mode={mode:o},size=50%"
            linux.mount("tmpfs", path, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, options)
            report["mounts"]["covered"].append(path)
        except OSError as err:
            report["mounts"]["errors"].append(f"cannot cover {path}: {err.strerror}")


def _apply_mounts(plan: dict, report: dict) -> None:
    handles = {}
    for path in plan["expose"]:
        try:
            handles[path] = os.open(path, os.O_PATH | os.O_DIRECTORY)
        except OSError as err:
            report["mounts"]["errors"].append(f"cannot open {path}: {err.strerror}")
    _cover(plan["cover"], report)
    for path, handle in handles.items():
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            linux.mount(f"/proc/self/fd/{handle}", path, None, linux.MS_BIND | linux.MS_REC)
            report["mounts"]["shown"].append(path)
        except OSError as err:
            report["mounts"]["errors"].append(f"cannot show {path}: {err.strerror}")
        finally:
            os.close(handle)
    _cover(plan.get("cover_after", []), report)


def _drop_privileges(user: dict, report: dict) -> None:
    os.setgroups([])
    os.setresgid(user["gid"], user["gid"], user["gid"])
    os.setresuid(user["uid"], user["uid"], user["uid"])
    report["user"] = {"name": user["name"], "uid": os.getuid(), "gid": os.getgid()}


def isolate(plan: dict) -> dict:
    """Carry out the runner's plan in this process; return what was obtained.

    Raises ``PermissionError`` only when a privilege drop was asked for and failed:
    running a stranger's code as root is never the fallback.
    """
    report: dict = {
        "user": {"name": None, "uid": os.getuid(), "gid": os.getgid()},
        "network": {"cut": False, "why": "not asked"},
        "mounts": {"covered": [], "shown": [], "errors": []},
        "no_new_privs": False,
    }
    if plan.get("namespaces", True) and _enter_namespaces(report):
        _apply_mounts(plan["mounts"], report)
    elif not plan.get("namespaces", True):
        report["mounts"]["errors"].append("namespaces not asked for")
    if plan.get("user"):
        _drop_privileges(plan["user"], report)
    else:
        report["user"]["why"] = plan.get("why_no_user", "no user to drop to")
    try:
        linux.set_no_new_privs()
        report["no_new_privs"] = True
    except OSError:
        pass
    os.umask(0o022)
    return report
