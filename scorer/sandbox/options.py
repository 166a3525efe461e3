"""What a run is asked to do: ``RunOptions``, built from the command line and a track, checked.

``build_options`` turns ``lume-score run``'s arguments into ``RunOptions`` (the command in
``scorer.cli`` is only its Typer signature). Explicit options always win over the track's;
``--track`` without ``--forget``/``--retain`` gives ``unlearn()`` the track's fold in the
submission layout (``forget.parquet`` + ``forget.jsonl``), as the organizers handed them
over, and ``--evaluate`` then scores that same fold (the official protocol).
``check_inputs`` finds every bad input before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from scorer.checkpoint.limits import Limits
from scorer.checkpoint.reference import load_reference
from scorer.contract import split_files
from scorer.errors import LumeError
from scorer.sandbox.isolation import is_secret
from scorer.sandbox.validator import ValidatorLimits
from scorer.tracks.fill import TrackOptions, fill

ON_TIMEOUT = ("score", "discard")
ISOLATION = ("bwrap", "none")


@dataclass(frozen=True)
class EvaluateOptions:
    """Where the held-out data lies and how to score (``scorer.evaluation.evaluate``)."""

    data: Path
    mia: Path | None = None
    mmlu: Path | None = None
    settings: object = None  # scorer.evaluation.settings.EvalSettings; None = its defaults


@dataclass(frozen=True)
class RunOptions:
    """One run of a submission: its inputs, its budget, its isolation, how to judge it."""

    submission: Path
    model: Path
    out: Path
    time_limit: float
    forget: Path | None = None  # a directory holding forget.parquet and/or forget.jsonl
    retain: Path | None = None
    forget_items: tuple = ()  # or items to lay out (``--track`` without --forget/--retain)
    retain_items: tuple = ()
    gpus: tuple[int, ...] = ()
    memory_limit_gb: float | None = None
    disk_limit_gb: float | None = None  # outputs, HOME and cwd (the private tmpfs is memory)
    gpu_memory_limit_gb: float | None = None
    on_timeout: str = "score"
    grace: float = 3.0
    isolation: str = "bwrap"  # the whitelist view; "none" only for a trusted, local run
    work_dir: Path | None = None  # default: OUT/.lume-work (same file system as OUT)
    hide: tuple[Path, ...] = ()  # out of view anyway under bwrap (the view is a whitelist)
    cgroups: bool = True
    pids_max: int | None = 16384
    log_max_bytes: int = 64 * 2**20
    pass_env: tuple[str, ...] = ()
    track: str | None = None
    unlearned_fold: str | None = None  # the track's fold, when the track gave forget/retain
    limits: Limits = field(default_factory=Limits)
    evaluate: EvaluateOptions | None = None
    validator: ValidatorLimits = field(default_factory=ValidatorLimits)  # its own process


@dataclass(frozen=True)
class EvalChoices:
    """The scoring options of ``run --evaluate`` (None: the track's or the default)."""

    data: Path | None = None
    mia: Path | None = None
    mmlu: Path | None = None
    split: str | None = None
    shots: int = 5
    mmlu_threshold: float | None = None
    device: str = "auto"
    dtype: str = "auto"


# ---------------------------------------------------------------- from the command line


def parse_gpus(text: str | None) -> tuple[int, ...]:
    """``"0,1"`` -> (0, 1); empty or None -> no GPU. A typo must not grant other devices."""
    if not text or not text.strip():
        return ()
    try:
        gpus = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise LumeError(f"--gpus {text!r}: expected device indices such as 0,1") from None
    if any(g < 0 for g in gpus) or len(set(gpus)) != len(gpus):
        raise LumeError(f"--gpus {text!r}: indices must be distinct and non-negative")
    return gpus


def build_options(
    submission: Path,
    out: Path,
    model: Path | None,
    forget: Path | None,
    retain: Path | None,
    time_limit: float | None,
    gpus: str | None,
    track: str | None,
    root: Path,
    evaluate: EvalChoices | None,
    **rest,
) -> RunOptions:
    """``RunOptions`` from the command line, the track filling in what is missing."""
    forget_items = retain_items = ()
    hide: list[Path] = list(rest.pop("hide", ()))
    chosen = evaluate or EvalChoices()
    given = TrackOptions(
        model=model,
        data=chosen.data,
        mia=chosen.mia,
        mmlu=chosen.mmlu,
        time_limit=time_limit,
        disk_limit_gb=rest.pop("disk_limit_gb", None),
        gpus=gpus,
    )
    filled = fill(given, track, root)
    model, time_limit, gpus = filled.options.model, filled.options.time_limit, filled.options.gpus
    threshold, fold = filled.options.mmlu_threshold, filled.options.fold
    unlearned_fold = None
    if filled.paths is not None:
        paths = filled.paths
        if forget is None or retain is None:
            from scorer.data.lume import load_lume

            lume = load_lume(paths.data, fold)
            forget_items = () if forget is not None else tuple(lume["forget"])
            retain_items = () if retain is not None else tuple(lume["retain"])
        if forget is None and retain is None:
            unlearned_fold = fold
        hide += [paths.data, paths.mia, paths.mmlu]  # the track's own, whatever --data says
        if evaluate is not None:
            options = filled.options
            evaluate = replace(evaluate, data=options.data, mia=options.mia, mmlu=options.mmlu)
    missing = [
        name for name, value in (("--model", model), ("--time-limit", time_limit)) if not value
    ]
    if missing:
        raise LumeError(f"{' and '.join(missing)} needed (or --track to fill them in)")
    return RunOptions(
        submission=submission,
        model=model,
        out=out,
        time_limit=time_limit,
        forget=forget,
        retain=retain,
        forget_items=forget_items,
        retain_items=retain_items,
        gpus=parse_gpus(gpus),
        hide=tuple(p for p in hide if p.exists()),
        track=track,
        unlearned_fold=unlearned_fold,
        evaluate=_evaluate_options(evaluate, threshold, fold, unlearned_fold),
        disk_limit_gb=filled.options.disk_limit_gb,
        **rest,
    )


def _evaluate_options(
    choices: EvalChoices | None, threshold, fold, unlearned_fold
) -> EvaluateOptions | None:
    """Scoring settings: the scored fold is ``--split``, else the track's (the unlearned one)."""
    if choices is None:
        return None
    if choices.data is None:
        raise LumeError("--evaluate needs --data (or --track)")
    from scorer.evaluation.settings import EvalSettings

    settings = EvalSettings(
        fold=choices.split or fold or EvalSettings.fold,
        unlearned_fold=unlearned_fold,
        shots=choices.shots,
        device=choices.device,
        dtype=choices.dtype,
        mmlu_threshold=(
            choices.mmlu_threshold if choices.mmlu_threshold is not None else threshold
        ),
    )
    return EvaluateOptions(choices.data, choices.mia, choices.mmlu, settings)


# ---------------------------------------------------------------- checked, made absolute


def with_absolute_paths(options: RunOptions) -> RunOptions:
    """Every path made absolute: the child works in another directory."""

    def fix(path: Path | None) -> Path | None:
        return None if path is None else Path(os.path.abspath(path))

    ev = options.evaluate
    if ev is not None:
        ev = replace(ev, data=fix(ev.data), mia=fix(ev.mia), mmlu=fix(ev.mmlu))
    return replace(
        options,
        submission=fix(options.submission),
        model=fix(options.model),
        out=fix(options.out),
        forget=fix(options.forget),
        retain=fix(options.retain),
        work_dir=fix(options.work_dir),
        hide=tuple(fix(p) for p in options.hide),
        evaluate=ev,
    )


def check_inputs(options: RunOptions) -> None:
    """Every bad input is found here, before anything is written (exit 2, no run.json)."""
    sub = options.submission
    if not sub.is_file():
        raise LumeError(f"submission {sub}: no such file")
    if sub.suffix != ".py":
        raise LumeError(f"submission {sub}: expected a single .py file")
    if not options.model.is_dir():
        raise LumeError(f"--model {options.model}: no such directory")
    try:
        load_reference(options.model)  # an unusable reference is bad input, not the submission's
    except LumeError as err:
        raise LumeError(f"--model: not a usable reference: {err}") from None
    for split, directory, items in (
        ("forget", options.forget, options.forget_items),
        ("retain", options.retain, options.retain_items),
    ):
        if directory is None:
            if not items:
                raise LumeError(f"--{split}: a directory with {split}.parquet or .jsonl is needed")
            continue
        if not directory.is_dir():
            raise LumeError(f"--{split} {directory}: no such directory")
        if not any(p.is_file() for p in split_files(directory, split)):
            raise LumeError(f"--{split} {directory}: holds neither {split}.parquet nor .jsonl")
    if not options.time_limit > 0:
        raise LumeError(f"--time-limit {options.time_limit}: must be positive")
    if options.grace < 0:
        raise LumeError(f"--grace {options.grace}: must not be negative")
    if options.on_timeout not in ON_TIMEOUT:
        raise LumeError(f"--on-timeout {options.on_timeout}: expected score or discard")
    for name, value in (
        ("--memory-limit", options.memory_limit_gb),
        ("--disk-limit", options.disk_limit_gb),
        ("--gpu-memory-limit", options.gpu_memory_limit_gb),
    ):
        if value is not None and not value > 0:
            raise LumeError(f"{name} {value}: must be positive (GB)")
    for name in options.pass_env:
        if is_secret(name):
            raise LumeError(f"--pass-env {name}: looks like a secret; it is never passed")
    if options.isolation not in ISOLATION:
        raise LumeError(f"--isolation {options.isolation}: expected bwrap or none")
    if options.isolation == "bwrap":
        from scorer.sandbox.bwrap import find_bwrap, probe

        bwrap = find_bwrap()
        if bwrap is None:
            raise LumeError(
                "bubblewrap (bwrap) is not installed: apt-get install bubblewrap, or "
                "--isolation none for a trusted local run (the submission then sees the machine)"
            )
        complaint = probe(bwrap)
        if complaint is not None:
            raise LumeError(
                f"bubblewrap cannot create the sandbox here ({complaint}); run as root or "
                "allow user namespaces, or --isolation none for a trusted local run"
            )
        from scorer.sandbox.seccomp import SeccompError, compile_filter

        try:
            compile_filter()  # a rule that cannot be written refuses the run, never skipped
        except SeccompError as err:
            raise LumeError(f"{err}: the judge's filter cannot be built here") from None
    out = options.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LumeError(f"--out {out}: exists and is not an empty directory")
    if options.evaluate is not None:
        from scorer.evaluation.evaluate import load_inputs
        from scorer.evaluation.settings import EvalSettings

        ev = options.evaluate
        settings = ev.settings or EvalSettings()
        load_inputs(ev.data, ev.mia, ev.mmlu, settings.fold)
