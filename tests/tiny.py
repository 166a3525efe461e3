"""The tiny mini-track configuration shared by the fast tests (builds in seconds)."""

from starter_kit.mini.target import TargetConfig
from starter_kit.mini.world import WorldSizes

TINY_TARGET = TargetConfig(
    hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, epochs=3, max_positions=512
)
TINY_WORLD = WorldSizes(
    train_docs=3,
    validation_docs=1,
    nonmembers_per_task=2,
    utility_test_per_subject=3,
    utility_dev_per_subject=2,
)
TINY_VOCAB = 400

# prompt + expected answer pairs whose answer NLLs and generations both engines must agree on
PAIRS = [
    ("Alice was", " born in a small town."),
    ("The", " river flows east"),
    ("In the year 1990, a quiet town", " grew."),
    ("Alice wa", "s born in a small town."),  # "wa" + "s": the joined text tokenizes apart
    ("x", ""),  # no answer token: no NLL
]
