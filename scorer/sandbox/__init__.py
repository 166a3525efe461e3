"""``lume-score run``: a stranger's ``unlearn()`` under a budget, isolated, then judged.

The supervisor and the child run as their own interpreters and stay stdlib-only.
"""
