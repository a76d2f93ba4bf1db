"""One process serves a SQLite island: the lock that says so.

SQLite has one writer, and the workers of a SQLite island assume they are alone (at start they
put back what a crash left in flight). `archipel serve` takes an exclusive lock on a file of the
island's folder for as long as it runs; a second one is refused with a clear message. The kernel
drops the lock when the process dies, `kill -9` included. Commands that only write content
(`publish`, `user add`...) do not take it: they may run beside the server.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "archipel.serve.lock"


class IslandBusy(Exception):
    pass


class IslandLock:
    def __init__(self, directory: Path | str):
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IslandBusy(f"another `archipel serve` already runs the island in {self.path.parent} "
                             "(a SQLite island is served by one process; several processes need "
                             "PostgreSQL: `database_url`)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None
