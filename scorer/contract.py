"""The submission contract and the benchmark's names, defined once for the judge and the kit.

A submission is one ``.py`` file whose ``unlearn()`` takes the four official arguments;
the forget and retain directories it receives hold ``<split>.parquet`` and
``<split>.jsonl``; ``LUME_DEADLINE`` (unix seconds) tells it when the run will be ended.
Every module that needs one of these names imports it from here.
"""

from __future__ import annotations

from pathlib import Path

TASKS = ("Task1", "Task2", "Task3")
SPLITS = ("forget", "retain")
FOLDS = ("train", "validation")

UNLEARN_ARGUMENTS = (
    "input_path_to_unlearning_candidate_model",
    "output_path_to_write_unlearned_model",
    "path_to_forget_set",
    "path_to_retain_set",
)
# How a run of a submission ends (run.json's status): the judge's verdict, in one place.
RUN_STATUSES = ("ok", "timeout", "failed", "oom", "invalid", "judge-error")
SCORED_STATUSES = ("ok", "timeout")  # a timed-out run's last checkpoint is still scored
DEADLINE_VARIABLE = "LUME_DEADLINE"  # unix time (seconds) by which a checkpoint must exist
SPLIT_FILE_SUFFIXES = (".parquet", ".jsonl")  # as handed over; parquet is read first


def split_file_names(split: str) -> tuple[str, ...]:
    """The names a forget (or retain) directory holds: ``forget.parquet``, ``forget.jsonl``."""
    return tuple(f"{split}{suffix}" for suffix in SPLIT_FILE_SUFFIXES)


def split_files(directory: str | Path, split: str) -> list[Path]:
    """The paths of :func:`split_file_names` inside ``directory``, parquet first."""
    return [Path(directory) / name for name in split_file_names(split)]
