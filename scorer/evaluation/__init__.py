"""Scoring one checkpoint: the phases (items, MIA, MMLU) over an engine, and the outputs."""
