"""A Codabench competition bundle of a track: its builder, its schema check and its two programs.

``build`` writes the zip (``lume-score bundle``); ``schema`` checks ``competition.yaml``
against what Codabench's v2 unpacker requires; ``ingestion`` and ``scoring`` are the
programs the bundle's launchers call inside the docker image; ``task`` is what the bundle
tells them and where Codabench mounts things; ``columns`` the leaderboard's keys, written
once for both sides; ``pages`` the bundle's pages and Dockerfile.
"""
