"""Options from a track: what the command line leaves out, the track fills in.

Every command that takes ``--track`` (evaluate, run, leaderboard) fills its options
through :func:`fill`, so "explicit options win over the track's" holds in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from scorer.tracks.track import Track, TrackPaths, load_track, resolve


@dataclass(frozen=True)
class TrackOptions:
    """The options a track can give; ``None`` means "not given on the command line"."""

    model: Path | None = None
    data: Path | None = None
    mia: Path | None = None
    mmlu: Path | None = None
    fold: str | None = None  # the fold handed to unlearn() and scored
    mmlu_threshold: float | None = None
    time_limit: float | None = None
    disk_limit_gb: float | None = None
    gpus: str | None = None  # "0,1": the first ``track.gpus`` indices


@dataclass(frozen=True)
class Filled:
    """The filled options, and the track and its directories when one was named."""

    options: TrackOptions
    track: Track | None = None
    paths: TrackPaths | None = None


def track_defaults(track: Track, paths: TrackPaths) -> TrackOptions:
    """Everything the track says, as options."""
    return TrackOptions(
        model=paths.model,
        data=paths.data,
        mia=paths.mia,
        mmlu=paths.mmlu,
        fold=track.fold,
        mmlu_threshold=paths.mmlu_threshold,
        time_limit=track.time_limit_seconds,
        disk_limit_gb=track.disk_limit_gb,
        gpus=",".join(str(i) for i in range(track.gpus)),
    )


def fill(given: TrackOptions, track: str | Path | None, root: str | Path = ".") -> Filled:
    """``given`` with every ``None`` taken from the track (nothing changes without one)."""
    if track is None:
        return Filled(given)
    spec = load_track(track)
    paths = resolve(spec, root)
    defaults = track_defaults(spec, paths)
    missing = {
        f.name: getattr(defaults, f.name) for f in fields(given) if getattr(given, f.name) is None
    }
    return Filled(replace(given, **missing), spec, paths)
