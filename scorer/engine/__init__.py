"""Everything that runs a model: loading, the batched and reference engines, work plans, caches."""
