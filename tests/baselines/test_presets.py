"""Presets and ``LUME_BASELINE_<FIELD>`` overrides: each value read as its field's type."""

from __future__ import annotations

import pytest

from baselines.presets import PRESETS, TrainConfig, config_for
from scorer.errors import LumeError


def test_method_defaults_then_preset_then_environment():
    config = config_for("npo", environ={"LUME_BASELINE_PRESET": "mini"})
    assert config == TrainConfig(method="npo", beta=0.1, retain_term=True, **PRESETS["mini"])
    assert config_for("npo", environ={}) == TrainConfig(
        method="npo", beta=0.1, retain_term=True, **PRESETS["reference"]
    )
    overridden = config_for(
        "npo", environ={"LUME_BASELINE_PRESET": "mini", "LUME_BASELINE_LEARNING_RATE": "2e-5"}
    )
    assert overridden.learning_rate == 2e-5 and overridden.epochs == PRESETS["mini"]["epochs"]


def test_an_int_a_float_and_bools_are_read_as_their_fields_types():
    config = config_for(
        "npo",
        environ={
            "LUME_BASELINE_EPOCHS": " 3 ",
            "LUME_BASELINE_BETA": "0.25",
            "LUME_BASELINE_RETAIN_TERM": "0",
            "LUME_BASELINE_TRAIN_PROMPT": "Yes",
        },
    )
    assert (config.epochs, config.beta, config.retain_term, config.train_prompt) == (
        3,
        0.25,
        False,
        True,
    )
    assert type(config.epochs) is int and type(config.beta) is float
    assert config_for("gd", environ={"LUME_BASELINE_RETAIN_TERM": "true"}).retain_term is True


def test_the_deadline_override_is_a_unix_time_or_none():
    """The deadline's default is None, so its type must come from its annotation."""
    config = config_for("ga", environ={"LUME_BASELINE_DEADLINE": "1767225600.5"})
    assert config.deadline == 1767225600.5
    assert config_for("ga", environ={"LUME_BASELINE_DEADLINE": "1767225600"}).deadline == (
        1767225600.0
    )
    assert config_for("ga", environ={"LUME_BASELINE_DEADLINE": "none"}).deadline is None


def test_the_method_field_is_never_taken_from_the_environment():
    assert config_for("ga", environ={"LUME_BASELINE_METHOD": "kl"}).method == "ga"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LUME_BASELINE_EPOCHS", "three", "an integer"),
        ("LUME_BASELINE_EPOCHS", "2.5", "an integer"),
        ("LUME_BASELINE_LEARNING_RATE", "fast", "a number"),
        ("LUME_BASELINE_LEARNING_RATE", "nan", "a number"),
        ("LUME_BASELINE_RETAIN_TERM", "maybe", "1/0, true/false, yes/no or on/off"),
        ("LUME_BASELINE_DEADLINE", "soon", "a number or none"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_the_variable(variable, value, expected):
    with pytest.raises(LumeError) as error:
        config_for("npo", environ={variable: value})
    assert str(error.value) == f"{variable}={value!r}: expected {expected}"


def test_an_unknown_preset_or_method_is_a_one_line_error():
    with pytest.raises(LumeError, match="LUME_BASELINE_PRESET='huge': expected one of reference"):
        config_for("ga", environ={"LUME_BASELINE_PRESET": "huge"})
    with pytest.raises(LumeError, match="method 'xx': expected one of ga, gd, kl, npo, simnpo"):
        config_for("xx", environ={})


def test_the_process_environment_is_read_when_none_is_given(clean_environment):
    clean_environment.setenv("LUME_BASELINE_PRESET", "mini")
    clean_environment.setenv("LUME_BASELINE_SAVE_EVERY", "5")
    config = config_for("kl")
    assert (config.learning_rate, config.save_every, config.alpha) == (5e-4, 5, 1.0)
