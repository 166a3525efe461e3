"""config.json and generation_config.json: equal to the reference's but for harmless fields."""

from __future__ import annotations

from scorer.checkpoint.jsonfiles import json_diff, show
from scorer.checkpoint.names import CONFIG, GENERATION_CONFIG
from scorer.checkpoint.report import Violation
from scorer.checkpoint.rules.inspection import Inspection

# Fields of config.json that do not change the model's shapes or computation.
CONFIG_MAY_DIFFER = frozenset(
    {
        "dtype",
        "torch_dtype",
        "transformers_version",
        "_name_or_path",
        "_commit_hash",
        "_attn_implementation_autoset",
        "use_cache",
        "output_attentions",
        "output_hidden_states",
        "return_dict",
    }
)
# The JSON types those fields must keep (a value of another type breaks a loader or the
# scorer): return_dict must stay true, the scorer reads ``outputs.logits``.
MAY_DIFFER_TYPES: dict[str, tuple[type, ...]] = {
    "transformers_version": (str,),
    "_name_or_path": (str,),
    "_commit_hash": (str, type(None)),
    "_attn_implementation_autoset": (bool,),
    "use_cache": (bool,),
    "output_attentions": (bool,),
    "output_hidden_states": (bool,),
    "return_dict": (bool,),
}
MUST_BE = {"return_dict": True, "output_attentions": False, "output_hidden_states": False}
GENERATION_MAY_DIFFER = frozenset({"transformers_version", "_from_model_config"})
WEIGHT_DTYPES = frozenset({None, "float32", "float16", "bfloat16", "float64"})


def check_config(inspection: Inspection) -> None:
    """config.json must exist, parse, and match the reference's (see :func:`config_violations`)."""
    if CONFIG not in inspection.files:
        inspection.add("config", CONFIG, "config.json is missing")
        return
    config = inspection.load_json(CONFIG, "config")
    if config is None:
        return
    if not isinstance(config, dict):
        inspection.add("config", CONFIG, "config.json is not a JSON object")
        return
    inspection.config = config
    inspection.violations.extend(config_violations(config, inspection.reference.config))


def config_violations(config: dict, reference: dict) -> list[Violation]:
    """Fields that differ from the reference's (but :data:`CONFIG_MAY_DIFFER`), non-float dtypes.

    The scorer builds the model config.json describes, so it must be the reference's
    architecture; ``dtype`` / ``torch_dtype`` may change, but only to a floating type.
    """
    violations = [
        Violation(
            "config", CONFIG, f"config.json: {where} is {show(ours)}, the reference has {show(ref)}"
        )
        for where, ours, ref in json_diff(config, reference)
        if where.split(".")[0] not in CONFIG_MAY_DIFFER
    ]
    for key, types in MAY_DIFFER_TYPES.items():
        if key in config and (type(config[key]) not in types):
            violations.append(
                Violation("config", CONFIG, f"config.json: {key} = {show(config[key])} "
                          f"is not of type {' or '.join(t.__name__ for t in types)}")
            )  # fmt: skip
        elif key in MUST_BE and key in config and config[key] is not MUST_BE[key]:
            violations.append(
                Violation("config", CONFIG, f"config.json: {key} must be "
                          f"{show(MUST_BE[key])} for scoring, not {show(config[key])}")
            )  # fmt: skip
    for key in ("dtype", "torch_dtype"):
        value = config.get(key)
        if not (value is None or isinstance(value, str)) or value not in WEIGHT_DTYPES:
            violations.append(
                Violation("config", CONFIG, f"config.json: {key} = {show(value)} is not a float")
            )
    return violations


def check_generation_config(inspection: Inspection) -> None:
    """generation_config.json may be absent; if present it must parse and change nothing."""
    if GENERATION_CONFIG not in inspection.files:
        return
    ours = inspection.load_json(GENERATION_CONFIG, "config")
    if ours is None:
        return
    if not isinstance(ours, dict):
        inspection.add("config", GENERATION_CONFIG, f"{GENERATION_CONFIG} is not a JSON object")
        return
    reference = inspection.reference
    inspection.violations.extend(
        generation_violations(ours, reference.generation_config, reference.config)
    )


def generation_violations(
    ours: dict, reference: dict | None, reference_config: dict
) -> list[Violation]:
    """Generation settings that differ from the reference's (but :data:`GENERATION_MAY_DIFFER`).

    Transformers fills unset generation settings from this file, so a
    ``repetition_penalty`` here would change the scored generations. Without a reference
    file, transformers derives one from config.json: the values must equal those.
    """
    if reference is None:
        reference = {k: reference_config[k] for k in ours if k in reference_config}
    return [
        Violation(
            "config",
            GENERATION_CONFIG,
            f"{GENERATION_CONFIG}: {where} is {show(mine)}, the reference has {show(ref)}",
        )
        for where, mine, ref in json_diff(ours, reference)
        if where.split(".")[0] not in GENERATION_MAY_DIFFER
    ]
