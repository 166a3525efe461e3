"""``lume-score run``'s logic: options (a track fills what is not given), the summary.

Kept out of ``cli.py`` so that the command there is only its Typer signature. Explicit
options always win over the track's; ``--track`` without ``--forget``/``--retain`` gives
``unlearn()`` the track's ``train_fold`` in the submission layout (``forget.parquet`` +
``forget.jsonl``), as the organizers handed them over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from scorer.errors import LumeError
from scorer.sandbox.runner import EvaluateOptions, RunOptions, parse_gpus

EXIT_OK, EXIT_FAILED = 0, 1


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
    threshold, fold = None, None
    if track is not None:
        from scorer.tracks.track import load_track, resolve

        spec = load_track(track)
        paths = resolve(spec, root)
        model = model or paths.model
        time_limit = time_limit if time_limit is not None else spec.time_limit_seconds
        if gpus is None:
            gpus = ",".join(str(i) for i in range(spec.gpus))
        if forget is None or retain is None:
            from scorer.data.lume import load_lume

            lume = load_lume(paths.data, spec.train_fold)
            forget_items = () if forget is not None else tuple(lume["forget"])
            retain_items = () if retain is not None else tuple(lume["retain"])
        hide += [paths.data, paths.mia, paths.mmlu]
        threshold, fold = paths.mmlu_threshold, spec.fold
        if evaluate is not None:
            evaluate = EvalChoices(
                **{
                    **evaluate.__dict__,
                    "data": evaluate.data or paths.data,
                    "mia": evaluate.mia or paths.mia,
                    "mmlu": evaluate.mmlu or paths.mmlu,
                },
            )
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


def exit_code(record: dict) -> int:
    """0 when the run ends ok, or at a timeout with a checkpoint that will be scored."""
    return EXIT_OK if record["status"] == "ok" or record["scored"] else EXIT_FAILED


def _gb(value: int | None) -> str:
    return "?" if value is None else f"{value / 1e9:.2f} GB"


def run_table(record: dict) -> Table:
    """What happened, in one table: status, budget used, isolation, validation."""
    table = Table(title=f"lume-score run: {record['submission']}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    status = record["status"].upper() if record["status"] != "ok" else "ok"
    table.add_row("status", status + (f" ({record['reason']})" if record["reason"] else ""))
    table.add_row("scored", "yes" if record["scored"] else "no")
    table.add_row("exit code", str(record["exit_code"]))
    table.add_row(
        "wall / limit", f"{record['wall_seconds']:.1f} s / {record['time_limit_seconds']:g} s"
    )
    table.add_row("CPU time", f"{record['cpu_seconds']:.1f} s")
    table.add_row("peak memory", _gb(record["peak_memory_bytes"]))
    gpu = record.get("gpu")
    if gpu:
        busy = gpu.get("gpu_seconds")
        table.add_row(
            "GPU",
            f"{len(gpu['granted'])} granted, "
            + (f"{busy:.1f} busy GPU-s" if busy is not None else f"not measured: {gpu['why_not']}"),
        )
    isolation = record["isolation"]
    user = isolation.get("user") or {}
    network = isolation.get("network") or {}
    table.add_row(
        "isolation",
        f"user {user.get('name') or user.get('uid')}, network "
        + ("cut" if network.get("cut") else f"open ({network.get('why')})")
        + ", cgroup "
        + ("yes" if isolation.get("child_in_cgroup") else "no"),
    )
    validation = record["validation"]
    violations = validation["violations"]
    table.add_row(
        "checkpoint",
        "valid"
        if validation["ok"]
        else f"{len(violations)} violation(s); first: {violations[0]['message']}",
    )
    table.add_row("log", f"{record['log']['file']} ({record['log']['bytes']} bytes)")
    return table
