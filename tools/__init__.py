"""Developer tools: mutation testing (``python -m tools.mutate ROOM``)."""
