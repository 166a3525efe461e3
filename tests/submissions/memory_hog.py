"""Allocates (and touches) memory 32 MB at a time, far past any sensible limit."""

import time


def unlearn(model, output, forget, retain):
    hoard = []
    for _ in range(400):  # up to 12.8 GB
        hoard.append(b"\x01" * (32 << 20))
        time.sleep(0.005)
    print("allocated", len(hoard) * 32, "MB")
