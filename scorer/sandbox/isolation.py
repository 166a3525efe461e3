"""What the submission's process gets: its environment, and, in the child, its user.

The view of the machine (files, namespaces, capabilities, seccomp) is bubblewrap's
(``scorer.sandbox.bwrap``); what is left here is what bwrap does not do:
- an allow-listed environment: tokens, credentials, proxies and cloud keys never pass;
- in the child, the change to the run's own user (``become``; no supplementary groups,
  no capability left, checked by reading them back from the kernel).
Standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

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

RUN_ID_VARIABLE = "LUME_RUN_ID"  # marks every process of a run (last-resort /proc scan)


@dataclass(frozen=True)
class RunUser:
    """The account one run's submission runs as (its own uid, see ``identity``)."""

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


# ---------------------------------------------------------------- in the child


def become(user: dict | None) -> dict:
    """Become the run's user (no supplementary groups) when one is given, then report what
    this process now is, read back from the kernel (``scorer.sandbox.facts``): ids,
    capabilities, no_new_privs, seccomp, namespaces, network, mounts, rlimits. Raises
    ``PermissionError`` when the change of user fails or leaves a capability: running a
    stranger's code with privileges is never the fallback."""
    from scorer.sandbox.facts import read_facts
    from scorer.sandbox.linux import (
        clear_inheritable_capabilities,
        drop_bounding_set,
        parent_death_signal,
        set_parent_death_signal,
    )

    if user:
        death = parent_death_signal()  # bwrap's --die-with-parent; a change of user clears it
        drop_bounding_set()  # with the CAP_SETPCAP bwrap kept for this (then gone)
        os.setgroups([])
        os.setresgid(user["gid"], user["gid"], user["gid"])
        os.setresuid(user["uid"], user["uid"], user["uid"])
        if death:
            set_parent_death_signal(death)
    clear_inheritable_capabilities()
    facts = read_facts()
    held = {k: v for k, v in facts["capabilities"].items() if k != "bounding" and v != "0"}
    if user and held:
        raise PermissionError(f"capabilities left after the change of user: {held}")
    os.umask(0o077)
    name = user["name"] if user else None
    return {"user": {"name": name, "uid": os.getuid(), "gid": os.getgid()}, **facts}
