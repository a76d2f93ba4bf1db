"""Archipel's domain: islands, people, published items and the storage behind them.

Nothing in this package speaks HTTP or ActivityStreams; `federation` and `web` build on it.
"""
