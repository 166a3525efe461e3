"""The embedded mini track: a seeded LUME-like world and a tiny target that memorized it."""
