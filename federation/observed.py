"""Counters kept by the workers as they work, exposed by `/metrics` (web/metrics.py).

Outcomes are counted where they are written rather than read back from the database at each
scrape: finished rows only accumulate, and counting them would cost more with every day of the
island's history. In multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`) the process answering
`/metrics` reports the sum over every process, those running the workers included.
"""

from __future__ import annotations

from prometheus_client import Counter

DELIVERY_OUTCOMES = ("sent", "retry", "gave_up")

DELIVERIES = Counter("archipel_deliveries", "Delivery attempts whose outcome was written: sent, retry "
                     "(failed, tried again later) or gave_up.", ["outcome"])
for _outcome in DELIVERY_OUTCOMES:
    DELIVERIES.labels(_outcome)  # every series present from the start, at 0


def deliveries(sent: int = 0, retry: int = 0, gave_up: int = 0) -> None:
    for outcome, count in (("sent", sent), ("retry", retry), ("gave_up", gave_up)):
        if count:
            DELIVERIES.labels(outcome).inc(count)
