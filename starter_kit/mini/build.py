"""``lume mini build``: write the mini track in the hub layout and train its target.

Output (built in a temporary sibling directory, renamed into place when complete)::

    DIR/build.json                      what was built, where, and the target's scores
    DIR/model/                          the target: safetensors + config + tokenizer
    DIR/dataset/data/{forget,retain}_{train,validation}-00000-of-00001.parquet
    DIR/dataset/mia_data/{member,nonmember}.jsonl
    DIR/mmlu/<subject>/{dev,test}-00000-of-00001.parquet
    DIR/target_scores/{scores.json,items.jsonl}

``model/`` and ``dataset/`` are laid out like the real hub repositories, so the mini track
can be served as a mirror. With ``source`` the target memorizes an existing LUME-format
dataset (e.g. the public splits) instead of a generated world.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from scorer.contract import FOLDS, SPLITS
from scorer.data.files import write_items_parquet, write_mia_jsonl, write_mmlu_parquet
from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.data.records import Item, MiaDocument, MmluQuestion
from scorer.evaluation.evaluate import evaluate
from scorer.evaluation.progress import ProgressFactory, no_progress
from scorer.evaluation.settings import EvalSettings
from scorer.official.mmlu_prompt import CHOICE_LETTERS, mmlu_prompt
from starter_kit.mini.corpus import memorization_examples, utility_examples
from starter_kit.mini.target import TargetConfig, build_model, train_target
from starter_kit.mini.tokenizer import train_tokenizer
from starter_kit.mini.world import World, WorldSizes, generate_world, mia_sets

BUILD_FILE = "build.json"
MMLU_THRESHOLD_FRACTION = 0.75  # the challenge flagged MMLU below 75% of the target's


@dataclass(frozen=True)
class BuildOptions:
    seed: int = 0
    source: Path | None = None
    source_folds: tuple[str, ...] = FOLDS
    vocab_size: int = 2048
    target: TargetConfig = TargetConfig()
    sizes: WorldSizes = WorldSizes()


@dataclass(frozen=True)
class TrackData:
    """The LUME items per (split, fold), MIA sets and utility questions of a build."""

    items: dict[tuple[str, str], list[Item]]
    mia: dict[str, list[MiaDocument]]
    utility_dev: list[MmluQuestion]
    utility_test: list[MmluQuestion]
    statements: list[str]
    documents: list[str]  # full texts trained on as running text


def _generated(world: World) -> TrackData:
    items = {(s, f): world.items(s, f) for s in SPLITS for f in FOLDS}
    return TrackData(
        items=items,
        mia=mia_sets(world),
        utility_dev=[f.question for f in world.utility_dev],
        utility_test=[f.question for f in world.utility_test],
        statements=[f.statement for f in world.utility_dev + world.utility_test],
        documents=[d.text for d in world.trained_documents()],
    )


def _from_source(source: Path, folds: tuple[str, ...], world: World) -> TrackData:
    """LUME items (and MIA sets, when present) of ``source``; utility from the world."""
    items = {}
    for fold in folds:
        lume = load_lume(source, fold)
        for split in SPLITS:
            items[(split, fold)] = lume[split]
    mia_dir = source / "mia_data" if (source / "mia_data").is_dir() else source
    has_mia = (mia_dir / "member.jsonl").is_file() or (mia_dir / "nonmember.jsonl").is_file()
    mia = load_mia(mia_dir) if has_mia else mia_sets(world)  # a bad MIA file is an error
    generated = _generated(world)
    return TrackData(
        items=items,
        mia=mia,
        utility_dev=generated.utility_dev,
        utility_test=generated.utility_test,
        statements=generated.statements,
        documents=[d.document for d in mia["member"]],
    )


def _write_data(root: Path, data: TrackData) -> None:
    for (split, fold), items in data.items.items():
        write_items_parquet(
            root / "dataset" / "data" / f"{split}_{fold}-00000-of-00001.parquet", items
        )
    for name, docs in data.mia.items():
        write_mia_jsonl(root / "dataset" / "mia_data" / f"{name}.jsonl", docs)
    for split, questions in (("dev", data.utility_dev), ("test", data.utility_test)):
        by_subject: dict[str, list[MmluQuestion]] = {}
        for q in questions:
            by_subject.setdefault(q.subject, []).append(q)
        for subject, qs in by_subject.items():
            write_mmlu_parquet(root / "mmlu", split, subject, qs)


def _train(
    root: Path, data: TrackData, options: BuildOptions, progress: ProgressFactory
) -> list[float]:
    all_items = [i for items in data.items.values() for i in items]
    questions = data.utility_dev + data.utility_test
    tokenizer_texts = [
        *data.documents,
        *(i.input + " " + i.output for i in all_items),
        *data.statements,
        *(d.document for d in data.mia["nonmember"]),
        *(mmlu_prompt(q.subject, [], q) + " " + CHOICE_LETTERS[q.answer] for q in questions),
    ]
    tokenizer = train_tokenizer(tokenizer_texts, options.vocab_size)
    memorize = memorization_examples(all_items, data.documents)

    def epoch_examples(epoch: int):
        rng = random.Random(options.seed * 100_003 + epoch)
        return memorize + utility_examples(data.statements, questions, rng)

    config = TargetConfig(**{**asdict(options.target), "seed": options.seed})
    model = build_model(config, tokenizer)
    advance = progress("training", config.epochs)
    losses = train_target(
        model, tokenizer, epoch_examples, config, on_epoch=lambda *_epoch: advance(1)
    )
    model_dir = root / "model"
    hf_logging.disable_progress_bar()
    model.save_pretrained(model_dir, safe_serialization=True)
    tokenizer.save_pretrained(model_dir)
    return losses


def read_build(out_dir: Path) -> dict | None:
    """The ``build.json`` of a finished build in ``out_dir``, or ``None``."""
    path = Path(out_dir) / BUILD_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def build_paths(out_dir: Path, build: dict) -> dict[str, Path]:
    return {
        key: Path(out_dir) / build[key] for key in ("model_dir", "data_dir", "mia_dir", "mmlu_dir")
    }


def build_mini_track(
    out_dir: Path,
    options: BuildOptions = BuildOptions(),
    progress: ProgressFactory = no_progress,
) -> dict:
    """Build everything into ``out_dir`` (replaced only once the new build is complete)."""
    out_dir = Path(out_dir)
    started = time.perf_counter()
    torch.manual_seed(options.seed)
    world = generate_world(options.seed, options.sizes)
    data = (
        _from_source(options.source, options.source_folds, world)
        if options.source
        else _generated(world)
    )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_data(staging, data)
        losses = _train(staging, data, options, progress)
        trained = time.perf_counter()
        # the fold the track hands to unlearn() and scores: the MIA members are its forget
        # documents (a build from one fold of a source scores that fold)
        fold = "train" if "train" in options.source_folds else options.source_folds[0]
        settings = EvalSettings(fold=fold, unlearned_fold=fold)
        scores = evaluate(
            staging / "model",
            staging / "dataset",
            staging / "target_scores",
            staging / "dataset" / "mia_data",
            staging / "mmlu",
            settings,
            progress,
        )
        build = {
            "seed": options.seed,
            "source": str(options.source) if options.source else None,
            "folds": list(options.source_folds),
            "model_dir": "model",
            "data_dir": "dataset",
            "mia_dir": "dataset/mia_data",
            "mmlu_dir": "mmlu",
            "scored_fold": fold,
            "mmlu_threshold": MMLU_THRESHOLD_FRACTION * scores["mmlu"],
            "target_scores": {
                k: scores[k]
                for k in (
                    "final_score",
                    "task_aggregate",
                    "mia_auc",
                    "mia_score",
                    "mmlu",
                    "forget",
                    "retain",
                )
            },
            "sizes": _sizes(data),
            "target": asdict(options.target) | {"vocab_size": options.vocab_size},
            "final_train_loss": losses[-1],
            "seconds": {
                "train": round(trained - started, 1),
                "total": round(time.perf_counter() - started, 1),
            },
        }
        (staging / BUILD_FILE).write_text(json.dumps(build, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return build


def _sizes(data: TrackData) -> dict:
    docs = {
        f"{split}_{fold}": {
            task: len({i.document_id for i in items if i.task == task})
            for task in ("Task1", "Task2", "Task3")
        }
        for (split, fold), items in data.items.items()
    }
    return {
        "documents": docs,
        "items": {f"{s}_{f}": len(items) for (s, f), items in data.items.items()},
        "mia": {name: len(d) for name, d in data.mia.items()},
        "utility": {"dev": len(data.utility_dev), "test": len(data.utility_test)},
    }
