"""The data formats the judge reads and writes; every loader validates what it reads.

``records`` (the frozen records), ``lume`` (LUME splits), ``mia`` (member / nonmember
sets), ``mmlu`` (MMLU), ``files`` (atomic, reproducible writers), ``reading`` (what the
loaders share: one-line messages naming file, row and field; raw readers).
"""
