"""What validation found: one :class:`Violation` per problem, gathered in a report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Violation:
    """One reason a checkpoint may not be scored; ``rule`` is a stable id (see validate.py)."""

    rule: str
    file: str  # the file at fault, relative to the checkpoint; "" for the whole directory
    message: str
    tensor: str | None = None


@dataclass(frozen=True)
class ValidationReport:
    """Every violation and note of one validation, and how much was read to find them."""

    checkpoint: str
    reference: str
    violations: list[Violation]
    tensors_checked: int
    bytes_checked: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    # violations a capped copy of the report no longer lists, by rule (from_json keeps them)
    omitted: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing stops the checkpoint from being scored."""
        return not self.violations

    def to_json(self) -> dict:
        """The report as ``lume-score validate --json`` prints it and ``run.json`` keeps it."""
        return {
            "ok": self.ok,
            "checkpoint": self.checkpoint,
            "reference": self.reference,
            "violations": [asdict(v) for v in shown_violations(self.violations)],
            "violations_left_out": _added(left_out(self.violations), self.omitted),
            "notes": list(self.notes),
            "tensors_checked": self.tensors_checked,
            "bytes_checked": self.bytes_checked,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_json(cls, data: dict) -> ValidationReport:
        """The report :meth:`to_json` gave (from the validator's process): the violations it
        shows, and the count of those it left out. Raises on anything else."""
        violations = [
            Violation(str(v["rule"]), str(v["file"]), str(v["message"]), v.get("tensor"))
            for v in data["violations"]
        ]
        if any(v.tensor is not None and not isinstance(v.tensor, str) for v in violations):
            raise ValueError("a violation's tensor is not a string")
        omitted = {str(rule): int(n) for rule, n in data["violations_left_out"].items()}
        return cls(
            checkpoint=str(data["checkpoint"]),
            reference=str(data["reference"]),
            violations=violations,
            tensors_checked=int(data["tensors_checked"]),
            bytes_checked=int(data["bytes_checked"]),
            seconds=float(data["seconds"]),
            notes=[str(note) for note in data["notes"]],
            omitted=omitted,
        )


def _added(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {rule: a.get(rule, 0) + b.get(rule, 0) for rule in sorted(a.keys() | b.keys())}


MAX_PER_RULE = 20  # a report shows the first violations of each rule and counts the rest


def shown_violations(violations: list[Violation], per_rule: int = MAX_PER_RULE) -> list[Violation]:
    """The first ``per_rule`` violations of each rule, in their order: a checkpoint with
    100,000 bad tensors gives a report of a few kilobytes, not 21 MB."""
    seen: dict[str, int] = {}
    shown = []
    for violation in violations:
        seen[violation.rule] = seen.get(violation.rule, 0) + 1
        if seen[violation.rule] <= per_rule:
            shown.append(violation)
    return shown


def left_out(violations: list[Violation], per_rule: int = MAX_PER_RULE) -> dict[str, int]:
    """How many violations of each rule the report leaves out."""
    counts: dict[str, int] = {}
    for violation in violations:
        counts[violation.rule] = counts.get(violation.rule, 0) + 1
    return {rule: n - per_rule for rule, n in sorted(counts.items()) if n > per_rule}
