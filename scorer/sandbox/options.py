"""``lume-score run``'s logic: options (a track fills what is not given), the summary.

Kept out of ``cli.py`` so that the command there is only its Typer signature. Explicit
options always win over the track's; ``--track`` without ``--forget``/``--retain`` gives
``unlearn()`` the track's ``train_fold`` in the submission layout (``forget.parquet`` +
``forget.jsonl``), as the organizers handed them over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from scorer.errors import LumeError
from scorer.sandbox.runner import EvaluateOptions, RunOptions, parse_gpus
from scorer.tracks.fill import TrackOptions, fill


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
        gpus=gpus,
    )
    filled = fill(given, track, root)
    model, time_limit, gpus = filled.options.model, filled.options.time_limit, filled.options.gpus
    threshold, fold = filled.options.mmlu_threshold, filled.options.fold
    if filled.paths is not None:
        paths = filled.paths
        if forget is None or retain is None:
            from scorer.data.lume import load_lume

            lume = load_lume(paths.data, filled.options.train_fold)
            forget_items = () if forget is not None else tuple(lume["forget"])
            retain_items = () if retain is not None else tuple(lume["retain"])
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
        evaluate=_evaluate_options(evaluate, threshold, fold),
        **rest,
    )


def _evaluate_options(choices: EvalChoices | None, threshold, fold) -> EvaluateOptions | None:
    if choices is None:
        return None
    if choices.data is None:
        raise LumeError("--evaluate needs --data (or --track)")
    from scorer.evaluation.settings import EvalSettings

    settings = EvalSettings(
        fold=choices.split or fold or "validation",
        shots=choices.shots,
        device=choices.device,
        dtype=choices.dtype,
        mmlu_threshold=(
            choices.mmlu_threshold if choices.mmlu_threshold is not None else threshold
        ),
    )
    return EvaluateOptions(choices.data, choices.mia, choices.mmlu, settings)
