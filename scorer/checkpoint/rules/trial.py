"""The trial: the checkpoint's configuration loaded and run on a few tokens, at a tiny scale.

Comparing config.json with the reference's catches a changed architecture; it cannot tell
whether transformers and the scorer can still use the file (``return_dict: false`` made
the scorer's ``outputs.logits`` an AttributeError). So the configuration is loaded as the
scorer will load it (no remote code), shrunk (one layer, narrow widths: milliseconds and a
few megabytes whatever the model's size) and run forward on four tokens; the logits must
have the expected shape and be finite. A failure is the checkpoint's (``trial``) only if
the reference's own configuration passes the same trial; else it is a note.
"""

from __future__ import annotations

from pathlib import Path

from scorer.checkpoint.names import CONFIG
from scorer.checkpoint.rules.inspection import Inspection

TINY = {"num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128, "head_dim": 16}
TOKENS = 4


def _shrunk(config) -> None:
    """Narrow a decoder config in place (the attributes it has; heads kept divisible)."""
    for name, value in TINY.items():
        current = getattr(config, name, None)
        if isinstance(current, int) and not isinstance(current, bool):
            setattr(config, name, min(current, value))
    heads = getattr(config, "num_attention_heads", None)
    if isinstance(heads, int):
        config.num_attention_heads = 4
        kv = getattr(config, "num_key_value_heads", None)
        if isinstance(kv, int):
            config.num_key_value_heads = 4 if kv == heads else 1
        if getattr(config, "head_dim", None) is not None:
            config.head_dim = config.hidden_size // 4


def trial_forward(directory: Path) -> str | None:
    """Load ``directory``'s config.json as the scorer does, run the shrunk model on a few
    tokens; None when it works, else why not (one line)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
        _shrunk(config)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
        model.eval()
        vocab = model.get_input_embeddings().num_embeddings
        ids = torch.arange(1, TOKENS + 1).remainder(vocab).unsqueeze(0)
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        if tuple(logits.shape[:2]) != (1, TOKENS) or not bool(torch.isfinite(logits).all()):
            return f"the logits have shape {tuple(logits.shape)} or are not finite"
    except Exception as err:  # noqa: BLE001 - whatever the configuration does to the loader
        text = " ".join(str(err).split())[:300]
        return f"{type(err).__name__}: {text}" if text else type(err).__name__
    return None


_REFERENCE_TRIALS: dict[str, str | None] = {}


def reference_trial(directory: Path) -> str | None:
    """:func:`trial_forward` of the (trusted) reference, once per process: the validator's
    process runs it while it waits for the checkpoint, which also loads the lazily
    imported model code and warms the first forward pass."""
    key = str(Path(directory).resolve())
    if key not in _REFERENCE_TRIALS:
        _REFERENCE_TRIALS[key] = trial_forward(Path(directory))
    return _REFERENCE_TRIALS[key]


def check_trial(inspection: Inspection) -> None:
    """The trial of the checkpoint's configuration, when nothing else is wrong with it."""
    if CONFIG not in inspection.files or inspection.violations:
        return
    problem = trial_forward(inspection.root)
    if problem is None:
        return
    reference_problem = reference_trial(inspection.reference.path)
    if reference_problem is not None:
        inspection.notes.append(f"trial not conclusive: the reference fails it too ({problem})")
        return
    inspection.add(
        "trial", CONFIG, f"config.json: a forward pass with this configuration fails: {problem}"
    )
