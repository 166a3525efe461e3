"""May a checkpoint be loaded and scored? Safetensors parsing, streamed scans, the rules.

:func:`scorer.checkpoint.validate.validate_checkpoint` runs the rules (``rules/``) in order
and lists them; nothing here imports torch until values are scanned.
"""
