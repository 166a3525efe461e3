"""The work plan: keyed units, the same plan everywhere, shared out by rank, cached units
never recomputed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from scorer.engine import workplan
from scorer.engine.batching import length_batches
from scorer.engine.cache import ResultCache
from scorer.engine.parallel import World
from scorer.engine.workplan import Batch, Work, one_each, plan, run_units, share_of

INPUTS = ["a", "bbbb", "cc", "dddddd", "e", "fff", "gggg"]
CONTEXT = {"checkpoint": "abc", "max_new_tokens": 8}


def _work(engine: str = "batched", budget: int = 8) -> Work:
    """Length batches of ``INPUTS``; a result is the input upper-cased."""
    batches = length_batches([len(t) for t in INPUTS], lambda n, w: n * w, budget)
    return Work(engine, tuple(Batch(tuple(b)) for b in batches),
                lambda batch: [INPUTS[i].upper() for i in batch.indices])  # fmt: skip


def _run(units, work, cache, world=World(0, 1, 0), tally=None):
    return run_units(units, work.compute, cache, world, lambda _n: None, tally)


def test_the_plan_is_the_same_in_every_process():
    first = plan("items", _work(), INPUTS.__getitem__, CONTEXT)
    again = plan("items", _work(), INPUTS.__getitem__, dict(CONTEXT))
    assert first == again
    assert sorted(i for u in first for i in u.batch.indices) == list(range(len(INPUTS)))
    assert len({u.key for u in first}) == len(first)


def test_the_engine_and_the_inputs_are_in_every_key():
    batched = plan("items", _work("batched"), INPUTS.__getitem__, CONTEXT)
    reference = plan("items", _work("reference"), INPUTS.__getitem__, CONTEXT)
    assert not {u.key for u in batched} & {u.key for u in reference}
    changed = plan("items", _work(), lambda i: INPUTS[i] + ("!" if i == 3 else ""), CONTEXT)
    differ = [u.batch.indices for u, v in zip(batched, changed) if u.key != v.key]
    assert differ == [next(u.batch.indices for u in batched if 3 in u.batch.indices)]


def test_one_each_is_the_per_item_plan_in_input_order():
    assert one_each(3) == (Batch((0,)), Batch((1,)), Batch((2,)))


def test_results_come_back_in_the_callers_order():
    units = plan("items", _work(), INPUTS.__getitem__, CONTEXT)
    tally: dict[str, int] = {}
    results = _run(units, _work(), ResultCache(None), tally=tally)
    assert [results[i] for i in range(len(INPUTS))] == [t.upper() for t in INPUTS]
    assert tally == {"computed": len(units)}


def test_cached_units_are_not_recomputed(tmp_path: Path):
    cache = ResultCache(tmp_path)
    units = plan("items", _work(), INPUTS.__getitem__, CONTEXT)
    done, stale = units[0], units[1]
    cache.put("items", done.key, ["CACHED"] * len(done.batch.indices))
    cache.put("items", stale.key, ["WRONG LENGTH"] * (len(stale.batch.indices) + 1))
    computed: list[Batch] = []
    work = _work()

    def compute(batch: Batch) -> list:
        computed.append(batch)
        return work.compute(batch)

    tally: dict[str, int] = {}
    results = run_units(units, compute, cache, World(0, 1, 0), lambda _n: None, tally)
    assert done.batch not in computed and stale.batch in computed
    assert tally == {"cached": 1, "computed": len(units) - 1}
    assert all(results[i] == "CACHED" for i in done.batch.indices)
    assert all(results[i] == INPUTS[i].upper() for i in stale.batch.indices)
    # what was computed is now kept: a second run computes nothing
    again: dict[str, int] = {}
    assert run_units(units, compute, cache, World(0, 1, 0), lambda _n: None, again) == results
    assert again == {"cached": len(units)}


def test_each_rank_computes_its_share_and_all_get_everything(monkeypatch):
    size = 3
    units = plan("items", _work(budget=4), INPUTS.__getitem__, CONTEXT)
    assert len(units) > size
    board: dict = {}
    gathered = threading.Barrier(size)

    def all_gather(world: World, mine: dict) -> dict:  # what torch.distributed would do
        board.update(mine)
        gathered.wait()
        return dict(board)

    monkeypatch.setattr(workplan, "share", all_gather)
    computed: dict[int, list[tuple[int, ...]]] = {rank: [] for rank in range(size)}
    results: dict[int, dict] = {}

    def rank_main(rank: int) -> None:
        world = World(rank, size, rank)
        work = _work(budget=4)

        def compute(batch: Batch) -> list:
            computed[rank].append(batch.indices)
            return work.compute(batch)

        results[rank] = run_units(units, compute, ResultCache(None), world, lambda _n: None)

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for rank in range(size):
        assert computed[rank] == [u.batch.indices for u in units[rank::size]]
        assert share_of(units, World(rank, size, rank)) == sum(len(b) for b in computed[rank])
        assert results[rank] == {i: t.upper() for i, t in enumerate(INPUTS)}


@pytest.mark.parametrize("budget", [1, 6, 1000])
def test_every_input_is_in_exactly_one_unit(budget: int):
    units = plan("items", _work(budget=budget), INPUTS.__getitem__, CONTEXT)
    assert sorted(i for u in units for i in u.batch.indices) == list(range(len(INPUTS)))
    assert share_of(units, World(0, 1, 0)) == len(INPUTS)
