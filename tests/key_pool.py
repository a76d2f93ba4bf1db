"""RSA keys made ahead of need, on idle CPU.

Every island and every user of a test gets a fresh RSA 2048 key: ~50–190 ms of CPU each, 31 of the
114 s that four test files of islands and users took (counted once). The tests also wait (on
sockets, on child processes, on polls), and then a core is idle: a helper process at the lowest
priority makes keys into a bounded queue meanwhile, and the test process takes one from there
when it can, else makes its own as before.

Each key is still a real RSA 2048 key made by the same library, and used once: no two actors of a
run share one, as no two would in production. Keys made in child processes (`archipel serve`,
the command line) are not concerned."""

from __future__ import annotations

import multiprocessing
import os
import queue

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_generate = rsa.generate_private_key  # the library's own function, kept before it is replaced
_AHEAD = 64  # keys kept ready: a test rarely makes more at once


def _make_keys(ready: multiprocessing.Queue) -> None:
    os.nice(19)  # only the CPU nothing else wants
    while True:
        key = _generate(public_exponent=65537, key_size=2048)
        ready.put(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))  # waits while the queue is full


class KeyPool:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # no copy of the test process's threads
        self.ready = context.Queue(maxsize=_AHEAD)
        self.maker = context.Process(target=_make_keys, args=(self.ready,), daemon=True,
                                     name="rsa-keys-ahead")
        self.maker.start()

    def generate_private_key(self, public_exponent: int, key_size: int, backend=None):
        """rsa.generate_private_key, served from the queue for the size every actor uses."""
        if (public_exponent, key_size) == (65537, 2048):
            try:
                made = self.ready.get_nowait()
            except queue.Empty:
                pass
            else:
                # A key this run made itself: loading it skips the check of its numbers (which
                # costs as much as making the key).
                return serialization.load_der_private_key(made, None, unsafe_skip_rsa_key_validation=True)
        return _generate(public_exponent=public_exponent, key_size=key_size)

    def close(self) -> None:
        self.maker.terminate()
        self.maker.join(timeout=5)
        self.ready.close()
        self.ready.cancel_join_thread()  # keys left in the queue are not waited for
