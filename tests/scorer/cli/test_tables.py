"""The rich tables: the MIA attacks are named by their registry, violations are listed."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from rich.console import Console

from scorer.beyond import attacks
from scorer.beyond.attacks import ATTACKS, Attack
from scorer.cli.tables import beyond_table, violations_table


def _text(table) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(table)
    return console.file.getvalue()


def _scores(mia_attacks: dict) -> dict:
    return {
        "task_aggregate": 0.5,
        "mia_auc": 0.75,
        "mmlu": 0.25,
        "final_score": 0.4,
        "beyond_official": {"mia_attacks": {"k": 0.2, **mia_attacks}, "bootstrap": None},
    }


def test_beyond_table_names_each_attack_by_its_label():
    text = _text(beyond_table(_scores({"loss": 0.75, "min_k": 0.6, "min_k_plus_plus": 0.7})))
    assert "MIA AUC (loss)" in text and "0.7500" in text  # the official one: mia_auc
    assert "MIA AUC (Min-K%)" in text and "0.6000" in text
    assert "MIA AUC (Min-K%++)" in text and "0.7000" in text
    assert "zlib" not in text  # not in this scores.json: no row
    assert text.count("MIA AUC (loss)") == 1  # the official attack is not listed twice


def test_an_attack_added_to_the_registry_gets_its_row(monkeypatch: pytest.MonkeyPatch):
    extended = {
        **ATTACKS,
        "ratio": Attack("ratio", "reference ratio", lambda doc, k: 0.0),
    }
    monkeypatch.setattr(attacks, "ATTACKS", extended)
    text = _text(beyond_table(_scores({"loss": 0.75, "ratio": 0.55})))
    assert "MIA AUC (reference ratio)" in text and "0.5500" in text


@dataclass(frozen=True)
class _Violation:
    rule: str
    file: str
    tensor: str | None
    message: str


def test_violations_table_lists_every_violation():
    table = violations_table(
        [
            _Violation("R1", "model.bin", None, "pickle files are refused"),
            _Violation("R7", "model.safetensors", "lm_head.weight", "holds NaN"),
        ]
    )
    text = _text(table)
    assert "2 violation(s)" in text
    assert "pickle files are refused" in text and "lm_head.weight" in text and "R7" in text


def test_leaderboard_table_shows_names_as_written_and_fits_80_columns():
    from scorer.cli.tables import leaderboard_table
    from scorer.leaderboard import Entry, rank

    def scores(final: float, mmlu: float) -> dict:
        other = (3 * final - mmlu) / 2
        return {"final_score": final, "task_aggregate": other, "mia_score": other, "mmlu": mmlu}

    standings = rank(
        [
            Entry("[red]x[/red]", "a", "ok", scores(0.7, 0.5), wall_seconds=3725.0),
            Entry("low", "b", "ok", scores(0.75, 0.3)),
            Entry("dead", "c", "oom", None, reason="memory passed the limit"),
        ],
        mmlu_threshold=0.371,
    )
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(leaderboard_table(standings))
    text = console.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    lines = text.splitlines()
    first = next(line for line in lines if "[red]x[/red]" in line)  # not read as markup
    assert first.split()[:3] == ["1", "[red]x[/red]", "0.700"] and "1h02m05s" in first
    mentions = lines.index(next(line for line in lines if "honourable mentions" in line))
    assert lines[mentions + 1].split()[:2] == ["low", "0.750"]
    assert "low: MMLU below 0.371" in text and "dead: oom; memory passed the limit" in text
