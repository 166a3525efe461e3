"""``lume-score batch``: a whole challenge's submissions on a Ray cluster, resumable.

``submissions`` finds what to judge (a directory of ``.py`` files or a manifest with team
names); ``prepare`` builds and checks the run's options once, before anything is written;
``queue`` keeps each submission's state on disk, so the driver is disposable;
``tasks`` are the two Ray tasks (the budgeted run, then scoring); ``resources`` says what
each task asks of the cluster; ``driver`` feeds Ray from the queue and records outcomes;
``results`` writes the track's leaderboard into the results directory; ``estimate`` is
the organizer's wall-time arithmetic. Ray is imported only inside the driver's functions.
"""
