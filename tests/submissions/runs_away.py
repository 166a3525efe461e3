"""Never holds a pid for long: forks, lets the parent exit, starts a new session, repeats
(deaf to SIGTERM). Killing by a pid seen a moment ago keeps missing it; the run's cgroup
or the supervisor's subreaper must still end it."""

import os
import signal


def unlearn(model, output, forget, retain):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        if os.fork() > 0:
            os._exit(0)
        os.setsid()
