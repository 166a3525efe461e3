"""Never returns (and ignores SIGTERM): the run must end at the time limit, tree and all."""

import signal
import time


def unlearn(model, output, forget, retain):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.1)
