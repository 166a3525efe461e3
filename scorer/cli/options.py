"""Help texts of the options several commands share (``--track``, ``--root``), written once."""

from __future__ import annotations

from scorer.tracks.track import track_names


def track_help(fills: str) -> str:
    """``--track``'s help: the bundled tracks (read from ``scorer/tracks/``) and what it fills."""
    return f"{', '.join(track_names())} or a .toml file: {fills}"


ROOT_HELP = "Where the track's directories lie (mini: a lume mini build directory)."
