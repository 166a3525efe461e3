"""The submission's log: its stdout and stderr, capped, with the tail always kept.

A submission may print gigabytes (by accident or to fill the judge's disk); the log keeps
the first ``cap`` bytes and the last ``tail_bytes`` (where a crash is explained), and says
how much it dropped between them. Standard library only (the supervisor writes it).
"""

from __future__ import annotations

TAIL_BYTES = 1 << 20


class CappedLog:
    """The child's output: written up to ``cap`` bytes, then only the tail is kept."""

    def __init__(self, path: str, cap: int, tail_bytes: int = TAIL_BYTES) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.cap, self.tail_bytes = cap, tail_bytes
        self.written, self.dropped = 0, 0
        self.tail = bytearray()

    def write(self, data: bytes) -> None:
        """Append what the child wrote: to the file while under the cap, else to the tail."""
        room = max(self.cap - self.written, 0)
        if room:
            self.handle.write(data[:room])
            self.written += min(room, len(data))
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.tail_bytes:
                self.dropped += len(self.tail) - self.tail_bytes
                del self.tail[: len(self.tail) - self.tail_bytes]

    def close(self) -> None:
        """Write the tail (after a note of what was dropped) and close the file."""
        if self.tail:
            if self.dropped:
                self.handle.write(f"\n[lume: {self.dropped} bytes of log dropped]\n".encode())
            self.handle.write(bytes(self.tail))
        self.handle.close()

    @property
    def truncated(self) -> bool:
        """Whether bytes were dropped between the head and the tail."""
        return bool(self.dropped)

    @property
    def total_bytes(self) -> int:
        """How much the child wrote, dropped bytes included."""
        return self.written + len(self.tail) + self.dropped
