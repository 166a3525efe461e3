"""``lume-score run``: a stranger's ``unlearn()`` under a budget, isolated, then judged.

options (what a run is asked to do) -> runner (the orchestration) -> staging (files in and
out), supervisor (budget; processes, capped_log, cgroups, gpu), child (protocol, isolation,
linux), verdict and record (run.json). The supervisor and the child run as their own
interpreters and import only standard-library modules: protocol, isolation, linux, cgroups,
gpu, processes, capped_log, scorer.contract and scorer.procfs.
"""
