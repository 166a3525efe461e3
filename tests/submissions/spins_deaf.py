"""Starts a spinner in its own session, deaf to SIGTERM, and never returns: killed at the
time limit, its CPU reaches nobody's wait(); run.json must still count it. The spinner
prints its own CPU time to the log as it goes (the last line: a floor of what it used)."""

import os
import signal
import time


def unlearn(model, output, forget, retain):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)  # the spinner is an orphan in a session of its own
        said = 0.0
        while True:
            spent = time.process_time()
            if spent - said >= 0.1:
                print(f"spinner cpu {spent:.3f}", flush=True)
                said = spent
    while True:
        time.sleep(0.1)
