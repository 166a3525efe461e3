"""Checkpoint validation: may this directory be loaded and scored, safely and fairly?

A submission's ``unlearn()`` leaves a directory that the organizer will load. Before any
loader touches it, :func:`validate_checkpoint` compares it with the reference target and
lists *every* problem as a :class:`~scorer.checkpoint.report.Violation` with a stable rule
id. Nothing in the checkpoint is ever unpickled, imported or followed through a symlink:
weights are read through their safetensors headers and then streamed in bounded chunks, so
peak memory stays far below one shard's size whatever the checkpoint holds.

The rules, in the order they run (each id as it appears in the report; the module that
applies it in brackets, under ``scorer.checkpoint``):

- ``empty``: an empty directory. ``pickle-file`` / ``python-file``: refused by name,
  never opened [rules.directory].
- ``symlink``, ``unexpected-file``: the directory is flat; symlinks, sub-directories
  (a save killed half-way that left a staging directory included), special files and
  names outside the allow-list are refused. Allowed: ``config.json``,
  ``generation_config.json``, the weights (``model.safetensors`` alone, or
  ``model.safetensors.index.json`` and the shards it names), the tokenizer files the
  reference has, ``README.md`` and ``.gitattributes`` [rules.directory].
- ``size``: see :class:`~scorer.checkpoint.limits.Limits`; files over a limit are never
  opened, and over the total no value is scanned [rules.directory, limits].
- With an index, ``*.safetensors`` files it does not name (a shard a killed save left
  behind) are never read by a loader: they count towards the size limit and are listed as
  notes, not violations. Without an index, ``model.safetensors`` is the only weight file.
  Both ``model.safetensors`` and an index is an ``index`` violation: transformers would
  load ``model.safetensors`` and ignore the index. No weights at all: ``missing-file``.
  An index may name only plain ``*.safetensors`` names in the directory (``path-escape``
  for ``../x``, ``/x`` or ``a/b``) and must agree with the shards' headers: each tensor
  in exactly one shard, the one the index says (``index``) [rules.index, rules.tensors].
- ``config``: ``config.json`` must equal the reference's except
  :data:`~scorer.checkpoint.rules.configs.CONFIG_MAY_DIFFER`; ``generation_config.json``
  too (transformers fills unset generation settings from it, so a ``repetition_penalty``
  or ``bad_words_ids`` there would change the scored generations); it may be absent, and
  without one in the reference it may hold only values equal to the reference's
  ``config.json`` [rules.configs].
- ``tokenizer``: every tokenizer file of the reference present and equal: JSON files
  equal as parsed JSON (``save_pretrained`` re-serializes, and transformers 5 adds the
  load-time keys :data:`~scorer.checkpoint.rules.tokenizer.TOKENIZER_CONFIG_MAY_DIFFER`),
  other files byte for byte [rules.tokenizer].
- ``remote-code``: :data:`~scorer.checkpoint.jsonfiles.REMOTE_CODE_KEYS` anywhere in any
  JSON file, unless the reference's same file has the same key with the same value; a
  JSON file that does not parse or nests too deep is a violation of its file's rule
  [rules.inspection, jsonfiles].
- Tensors: same names and shapes as the reference (``missing-tensor``, ``extra-tensor``,
  ``shape``; tied embeddings follow what the reference stores); a floating tensor of the
  reference may be stored in any of :data:`~scorer.checkpoint.header.FLOAT_DTYPES` (not
  fp8), any other must keep the reference's dtype (``dtype``); every floating value
  finite (``non-finite``) [rules.tensors, scan].
- A weight file the safetensors library would refuse is ``empty``, ``truncated`` (the
  header or data run past the end) or ``not-safetensors``, never a crash [header].
- ``too-many-tensors``: a header larger than room for
  :func:`~scorer.checkpoint.limits.tensor_limit` entries is never read, one naming more
  tensors never parsed (a flood of empty tensors) [header, limits].
- JSON values compare with their exact types (``3.0`` is not ``3``); the config fields
  that may differ must keep their types (``use_cache`` a boolean) and ``return_dict``
  must stay true (``config``) [jsonfiles, rules.configs]. Values count as ``non-finite``
  when they are not finite in the dtype the scorer computes in (an F64 value beyond the
  float32 or bfloat16 range becomes inf there; past 65504 when it scores in float16, as
  asked or as config.json's ``dtype`` says) [scan, rules.tensors].
- ``trial`` (the judge's runs): with nothing else wrong, the configuration is loaded as
  the scorer loads it, shrunk to one narrow layer and run on four tokens; the logits must
  come out with their shape and finite [rules.trial]. The judge runs all of this in a
  process of its own under memory, CPU, time and output limits [worker; the judge's side
  is ``scorer.sandbox.validator``].
- The report shows the first violations of each rule and counts the rest
  (``violations_left_out``) [report].
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from scorer.checkpoint.limits import Limits
from scorer.checkpoint.reference import load_reference
from scorer.checkpoint.report import ValidationReport
from scorer.checkpoint.rules.configs import check_config, check_generation_config
from scorer.checkpoint.rules.directory import check_allowed, check_sizes, list_directory
from scorer.checkpoint.rules.index import weight_layout
from scorer.checkpoint.rules.inspection import Inspection, ProgressFactory, no_progress
from scorer.checkpoint.rules.tensors import check_tensors
from scorer.checkpoint.rules.tokenizer import check_tokenizer
from scorer.checkpoint.rules.trial import check_trial
from scorer.checkpoint.scan import DEFAULT_SCORING_DTYPES
from scorer.errors import ModelError


def validate_checkpoint(
    checkpoint: str | Path,
    reference: str | Path,
    limits: Limits = Limits(),
    progress: ProgressFactory | None = None,
    trial: bool = False,
    scoring_dtypes: Iterable[str] = DEFAULT_SCORING_DTYPES,
) -> ValidationReport:
    """Every reason the checkpoint may not be scored, as a report; with ``trial``, its
    configuration is also run forward at a tiny scale (imports transformers).
    ``scoring_dtypes``: what the scorer will load the weights in (``float16`` narrows the
    range the values must fit; config.json's own dtype is added).

    The organizer runs this before loading a stranger's checkpoint, so it never raises
    for a bad checkpoint; it raises :class:`ModelError` (exit 2) when the reference is
    unusable or ``checkpoint`` does not exist, is not a directory or cannot be listed.
    """
    started = time.perf_counter()
    ref = load_reference(reference)
    root = Path(checkpoint)
    if not os.path.lexists(root):
        raise ModelError(f"checkpoint {root}: does not exist")
    if not root.is_dir():
        raise ModelError(f"checkpoint {root}: not a directory")
    inspection = Inspection(root, ref, limits, progress or no_progress)
    inspection.scoring_dtypes = frozenset(scoring_dtypes)
    if root.is_symlink():
        inspection.add("symlink", "", f"{root} is a symlink; pass the directory itself")
        found = False
    else:
        try:
            found = list_directory(inspection)
        except OSError as err:
            raise ModelError(f"checkpoint {root}: cannot list it: {err}") from err
    if found:
        within_total = check_sizes(inspection)
        shards, weight_map = weight_layout(inspection)
        check_config(inspection)
        check_generation_config(inspection)
        check_tokenizer(inspection)
        check_allowed(inspection, weight_map)
        check_tensors(inspection, shards, weight_map, scan=within_total)
        if not within_total:
            inspection.notes.append("values not checked for NaN/Inf: the checkpoint is too large")
        if trial:
            check_trial(inspection)
    return ValidationReport(
        checkpoint=str(root),
        reference=str(ref.path),
        violations=inspection.violations,
        tensors_checked=inspection.tensors_checked,
        bytes_checked=inspection.bytes_checked,
        seconds=time.perf_counter() - started,
        notes=inspection.notes,
    )
