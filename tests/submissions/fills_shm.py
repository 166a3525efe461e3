"""Holds memory where no resident set counts it: files in /dev/shm (tmpfs), then waits.
The old runner reported a peak of 30 MiB for 768 MiB held this way."""

import time
from pathlib import Path

MIB = 1 << 20


def unlearn(model, output, forget, retain):
    written = 0
    try:
        with open("/dev/shm/held", "wb") as handle:
            for _ in range(256):
                handle.write(b"\x01" * MIB)
                handle.flush()
                written += MIB
    except OSError:
        pass  # the private tmpfs is full: what was written is still held
    (Path(output) / "written.txt").write_text(str(written))
    time.sleep(20)
