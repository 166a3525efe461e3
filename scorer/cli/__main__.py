"""``python -m scorer.cli``: the same as ``lume-score``."""

from scorer.cli import main

main()
