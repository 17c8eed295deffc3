"""Ctrl-C as a request to stop searching and return the best result so far.

While ``stop_requested_on_sigint()`` is active (in the main thread), SIGINT sets a flag instead
of raising ``KeyboardInterrupt``; long loops poll ``stop_requested()`` and wind down cleanly.
CP-SAT does not catch SIGINT here (``solver.sat.new_solver``): a solve under way runs out its
time share, and the flag, set once it returns, keeps anything further from starting.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_stop = threading.Event()


def stop_requested() -> bool:
    return _stop.is_set()


def request_stop() -> None:
    _stop.set()


@contextmanager
def stop_requested_on_sigint() -> Iterator[None]:
    """Within the block, Ctrl-C requests a stop; outside, it behaves as usual."""
    _stop.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
