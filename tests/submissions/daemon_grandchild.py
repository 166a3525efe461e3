"""Double-forks a grandchild that starts its own session, ignores SIGTERM and spawns a
child of its own; both write their pids to the output directory. With RETURN = True the
submission returns at once (the stragglers must still be ended), else it sleeps forever."""

import os
import signal
import time
from pathlib import Path

RETURN = False


def _daemon(output: Path) -> None:
    os.setsid()
    if os.fork() > 0:  # second fork: the session leader exits, the grandchild is orphaned
        os._exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:  # the daemon's own child, also deaf to SIGTERM
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        (output / "daemon-child.pid").write_text(str(os.getpid()))
        while True:
            time.sleep(0.1)
    (output / "daemon.pid").write_text(str(os.getpid()))
    while True:
        time.sleep(0.1)


def unlearn(model, output, forget, retain):
    output = Path(output)
    if os.fork() == 0:
        try:
            _daemon(output)
        finally:
            os._exit(0)
    while not ((output / "daemon.pid").exists() and (output / "daemon-child.pid").exists()):
        time.sleep(0.02)
    os.wait()  # the first child exits at once; the grandchild is now the init's (or ours)
    if RETURN:
        return
    while True:
        time.sleep(0.1)
