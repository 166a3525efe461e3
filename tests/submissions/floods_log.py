"""Writes 4 MB to stdout and stderr, then a last line: the log is capped, its tail kept."""

import sys


def unlearn(model, output, forget, retain):
    line = "x" * 1023 + "\n"
    for i in range(2048):
        (sys.stdout if i % 2 else sys.stderr).write(line)
    print("THE LAST LINE", flush=True)
