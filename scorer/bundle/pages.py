"""The bundle's pages (markdown) and the Dockerfile of the image it names.

The texts the pages share with the kit's documentation are package data beside this module:
``about.md`` (the README's opening) and ``score.md`` ("The score, exactly"; the docs site's
``docs/score.md`` is generated from it by ``python -m tools.gen_docs``), so an installed kit
builds the same pages as a checkout.
"""

from __future__ import annotations

from dataclasses import dataclass

from scorer.bundle.columns import columns
from scorer.contract import UNLEARN_ARGUMENTS
from scorer.errors import LumeError

DISTRIBUTION = "lume-kit"
IMAGE_ROOT = "/opt/lume"  # where the 1B/7B image holds `lume download --root`


@dataclass(frozen=True)
class Context:
    """What the pages say about one bundle."""

    track: str
    description: str
    kit_version: str
    docker_image: str
    time_limit_seconds: float
    execution_time_limit: int
    gpus: int
    fold: str
    mmlu_threshold: float | None
    model_in_image: str | None  # the target's path inside the image; None: in the input data


def text(name: str) -> str:
    """A text of the package beside this module (``about.md``, ``score.md``)."""
    from importlib.resources import files

    try:
        found = files(__package__).joinpath(name).read_text(encoding="utf-8")
    except OSError as error:
        raise LumeError(f"the kit's {name} is missing ({error}): reinstall lume-kit") from None
    return found.strip() + "\n"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes"


def _devices(gpus: int) -> str:
    return f"{gpus} GPUs at most" if gpus else "on CPU"


def overview(ctx: Context) -> str:
    arguments = ", ".join(UNLEARN_ARGUMENTS)
    gate = (
        f"Entries whose MMLU falls below {ctx.mmlu_threshold:g} are flagged "
        "(`mmlu_passed` = 0) and left out of the awards ranking."
        if ctx.mmlu_threshold is not None
        else "This track is not filtered on MMLU."
    )
    return f"""# LUME unlearning — the {ctx.track} track

{text("about.md")}
## This competition

{ctx.description}.

**Submit** a zip holding one `.py` file that defines
`unlearn({arguments})`, and nothing named `metadata`. The ingestion program runs it with
lume-kit {ctx.kit_version}'s runner (`lume-score run`) under a limit of
{_minutes(ctx.time_limit_seconds)} ({_devices(ctx.gpus)}): it receives the target model,
the {ctx.fold} fold's forget and retain sets, and must leave one Hugging Face checkpoint
(safetensors, the target's config and tokenizer) in its output directory; `LUME_DEADLINE`
(unix seconds) says when it will be stopped. The checkpoint present at the limit is
scored if it is valid. The scoring program scores that checkpoint on the same fold (the
official protocol). {gate}

Check a submission locally first: `lume check-submission my_unlearn.py --track {ctx.track}`.
"""


def evaluation(ctx: Context) -> str:
    rows = "\n".join(
        f"| `{c.key}` | {c.title} | {'higher' if c.sorting == 'desc' else 'lower'} is better |"
        for c in columns(ctx.mmlu_threshold is not None)
    )
    return f"""# Evaluation

{text("score.md")}
## The leaderboard

Ranked by the final score. Each column is a key of the scoring program's `scores.json`:

| key | column | order |
|---|---|---|
{rows}

The detailed results of a submission are the kit's report (`lume-score report`).
"""


def data(ctx: Context) -> str:
    if ctx.model_in_image is None:
        model = (
            "The target model is in the task's input data (`model/`), beside the fold's "
            "forget and retain sets; the reference data holds the scored fold, the MIA sets "
            "and the MMLU set."
        )
    else:
        model = (
            f"The target model (GBs) is not in the bundle: the docker image "
            f"`{ctx.docker_image}` holds it at `{ctx.model_in_image}` (built from "
            "`docker/Dockerfile` in the bundle, with `lume download`, which needs a token "
            "with access to the gated repositories). The input data holds the fold's public "
            "forget and retain sets; the reference data the scored fold, MIA and MMLU sets. "
            f"The track asks for {ctx.gpus} GPUs: the competition needs a queue of GPU "
            "workers (Codabench's `queue:` key, workers started with `USE_GPU=true`)."
        )
    return f"""# Data and infrastructure

{model}

Programs run in `{ctx.docker_image}` (lume-kit {ctx.kit_version}; the programs refuse
another version). Each step may take {ctx.execution_time_limit} s on the platform: the
submission's own limit ({ctx.time_limit_seconds:g} s, enforced by the runner) plus time
for staging, validation and scoring. The ingestion program isolates the submission with
bubblewrap where the container allows it, else the container is the boundary
(`LUME_ISOLATION=bwrap|none` forces one).
"""


TERMS = """# Terms

By taking part you agree to these terms.

- The LUME data and the 1B/7B target models are released by the SemEval-2025 Task 4
  organizers behind access requests on the Hugging Face hub; use them only under their
  terms, for this research challenge. MMLU (`cais/mmlu`) is under the MIT licence. The
  mini track is generated by lume-kit (Apache-2.0).
- A submission is code run on the organizers' machines: it must not try to escape its
  sandbox, reach the network, read data it is not handed, or disturb other runs. Any
  such attempt disqualifies the team.
- The organizers may publish the scores, the leaderboard and a description of each
  method; a team's code stays its own unless it chooses to release it.
"""


def dockerfile(ctx: Context) -> str:
    """The image the bundle names: the kit at its pinned version, and for 1B/7B the target.
    (PyPI's Linux torch wheels carry CUDA, so one base serves the CPU and the GPU tracks.)"""
    lines = [
        "# syntax=docker/dockerfile:1",  # BuildKit: RUN --mount=type=secret
        f"# docker build -t {ctx.docker_image} -f docker/Dockerfile .",
        "FROM python:3.11-slim",
        "RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap "
        "libseccomp2 && rm -rf /var/lib/apt/lists/*",
        "# the kit at the bundle's version (--build-arg KIT=path/to/the.whl for a wheel)",
        f'ARG KIT="{DISTRIBUTION}=={ctx.kit_version}"',
        'RUN pip install --no-cache-dir "$KIT"',
    ]
    if ctx.model_in_image is not None:
        lines += [
            "# the gated target and data: docker build --secret id=hf_token,src=TOKEN_FILE ...",
            "RUN --mount=type=secret,id=hf_token "
            f"lume download --track {ctx.track} --root {IMAGE_ROOT} "
            "--token-file /run/secrets/hf_token",
        ]
    return "\n".join(lines) + "\n"
