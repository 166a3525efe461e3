"""Tracks as TOML files (``mini.toml``, ``1B.toml``, ``7B.toml``) and how commands use them."""
