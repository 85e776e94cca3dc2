"""The garbage collector's settings for a long-running server process.

CPython's cyclic collector runs its youngest generation every 700 container allocations and,
whenever the long-lived objects have grown by a quarter, a full collection that walks every
one of them: the modules, classes and functions of the whole app included, which never become
garbage. Under load a player API process allocates fast, so those runs add CPU to every request
and pause the event loop (and the draw desk) at random, the pauses showing up in the p99.

``settle_heap``, once start-up is done: one full collection, then ``gc.freeze()`` moves every
surviving object to the permanent generation, which no collection walks again; and the youngest
generation is collected every ``YOUNG_THRESHOLD`` allocations. Reference counting frees most
objects as before; only garbage in reference cycles waits longer (bounded by the threshold).
A process settles once: a later call (a second app started in the same process, as the tests
do) finds the threshold already raised and changes nothing.

Measured with ``python -m ops.bench.http_draws --workers 1 --quick`` (interleaved, on a loaded
machine): the API process's CPU per draw 0.46-0.51 -> 0.34-0.38 ms, its collector's CPU over
the run 0.9-1.1 -> 0.2-0.3 s, draws/s 1,075-1,095 -> 1,370-1,685, p99 286-350 -> 99-153 ms.

The projector process settles with ``PROJECTOR_YOUNG_THRESHOLD`` (``settle_projector_heap``):
while catching up, what is alive at a time (a page being worked out, the one being written, the
one read ahead, the shared postings) passes 20,000 young objects now and then, and each such
collection walked them all (~10 ms) only to find no garbage: they are freed by reference
counting once their page is written. At 100,000 the young generation is hardly ever collected
during a catch-up; the peak RSS stayed 69 MiB. Collector CPU over a 200,000-event catch-up:
1.4-1.9 s by default, 0.35-0.5 s at 20,000, 0.1 s at 100,000 (most of it start-up's).
"""

from __future__ import annotations

import gc

__all__ = [
    "PROJECTOR_YOUNG_THRESHOLD",
    "YOUNG_THRESHOLD",
    "settle_heap",
    "settle_projector_heap",
]

YOUNG_THRESHOLD = 20_000
PROJECTOR_YOUNG_THRESHOLD = 100_000


def settle_heap() -> None:
    _settle(YOUNG_THRESHOLD)


def settle_projector_heap() -> None:
    _settle(PROJECTOR_YOUNG_THRESHOLD)


def _settle(young: int) -> None:
    current, middle, old = gc.get_threshold()
    if current >= young:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, middle, old)
