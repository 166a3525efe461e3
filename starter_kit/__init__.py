"""The participant's kit (``lume``): mini track, download, self-check, demo."""
