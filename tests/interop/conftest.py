"""Fixtures starting Fedify peers (see peer.py).

Without Node 22 or the peer's npm packages the tests skip, except when the
``CI`` environment variable is set: then they fail loudly, because CI must
run them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from .peer import FedifyPeer, check_peer


def _require_peer() -> None:
    ok, reason = check_peer()
    if ok:
        return
    message = f"Fedify interop peer unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
async def fedify_peer() -> AsyncIterator[FedifyPeer]:
    """A started Fedify peer (actor ``bob``); stopped after the test."""
    _require_peer()
    peer = FedifyPeer()
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


@pytest.fixture
async def fedify_peer_factory() -> AsyncIterator[Callable[..., Awaitable[FedifyPeer]]]:
    """Start any number of peers: ``peer = await fedify_peer_factory(first_knock=...)``."""
    _require_peer()
    peers: list[FedifyPeer] = []

    async def start(**options: object) -> FedifyPeer:
        peer = FedifyPeer(**options)  # type: ignore[arg-type]
        peers.append(peer)
        await peer.start()
        return peer

    try:
        yield start
    finally:
        for peer in peers:
            await peer.stop()
