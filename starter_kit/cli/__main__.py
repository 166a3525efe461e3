"""``python -m starter_kit.cli``: the same as ``lume``."""

from starter_kit.cli import main

main()
