"""The method table: one row per method, each a submission file, readable without torch."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from dataclasses import FrozenInstanceError, fields

import pytest

from baselines import losses
from baselines.methods import METHODS, NPO_BETA, SIMNPO_BETA, SIMNPO_GAMMA, Method, Needs
from baselines.presets import TrainConfig, config_for
from scorer.contract import UNLEARN_ARGUMENTS


def test_the_table_lists_the_five_methods_in_order():
    assert list(METHODS) == ["ga", "gd", "kl", "npo", "simnpo"]
    assert all(name == row.name and row.summary for name, row in METHODS.items())


def test_the_table_and_the_cli_modules_import_neither_torch_nor_transformers():
    code = (
        "import json, sys\n"
        "import baselines.methods, baselines.presets, starter_kit.baseline\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'accelerate')"
        " if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_is_a_submission_with_the_official_unlearn(name):
    submission = importlib.import_module(f"baselines.{name}")
    assert tuple(inspect.signature(submission.unlearn).parameters) == UNLEARN_ARGUMENTS
    assert f'"{name}"' in inspect.getsource(submission)  # it runs its own row


@pytest.mark.parametrize("name", list(METHODS))
def test_every_row_names_terms_that_exist_and_fields_that_exist(name):
    row = METHODS[name]
    assert callable(row.forget_loss())
    assert (row.retain_loss() is None) == (row.retain_term is None)
    assert set(row.defaults) <= {f.name for f in fields(TrainConfig)} - {"method"}
    config = config_for(name, environ={})
    assert all(getattr(config, key) == value for key, value in row.defaults.items())


def test_what_each_method_needs_and_when_it_has_a_retain_term():
    assert {name: row.needs for name, row in METHODS.items()} == {
        "ga": Needs.NOTHING,
        "gd": Needs.NOTHING,
        "kl": Needs.REFERENCE_MODEL,
        "npo": Needs.FORGET_LOG_PROBS,
        "simnpo": Needs.NOTHING,
    }
    uses = {
        name: (row.uses_retain_term(False), row.uses_retain_term(True))
        for name, row in METHODS.items()
    }
    assert uses == {
        "ga": (False, False),
        "gd": (True, True),
        "kl": (True, True),
        "npo": (False, True),
        "simnpo": (False, True),
    }
    # the submissions run NPO+RT and SimNPO+RT
    assert METHODS["npo"].defaults["retain_term"] and METHODS["simnpo"].defaults["retain_term"]


def test_the_papers_values_are_the_same_in_the_table_the_config_and_the_losses():
    assert METHODS["npo"].defaults["beta"] == NPO_BETA == losses.NPO_BETA == 0.1
    simnpo = inspect.signature(losses.simnpo).parameters
    assert (simnpo["beta"].default, simnpo["gamma"].default) == (SIMNPO_BETA, SIMNPO_GAMMA)
    config = TrainConfig(method="simnpo")
    assert (config.beta, config.simnpo_beta, config.simnpo_gamma) == (
        NPO_BETA,
        SIMNPO_BETA,
        SIMNPO_GAMMA,
    )


def test_a_row_is_frozen():
    row = METHODS["ga"]
    assert isinstance(row, Method)
    with pytest.raises(FrozenInstanceError):
        row.summary = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        METHODS["npo"].defaults["beta"] = 1.0  # type: ignore[index]
