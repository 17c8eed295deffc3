"""Ctrl-C as a request to stop searching and return the best result so far.

While ``stop_requested_on_sigint()`` is active (in the main thread), SIGINT sets a flag instead
of raising ``KeyboardInterrupt``; long loops poll ``stop_requested()`` and wind down cleanly.

A Python signal handler runs only when the main thread executes Python code, not while it waits
in a CP-SAT solve (which releases the GIL and can run for a level's whole time share). So
``on_sigint(action)`` also hands the signal to a watcher thread through the signal wake-up file
descriptor, which the interpreter writes at once from its C-level handler: the watcher calls
``action`` (``CpSolver.stop_search``), and the solve returns its best solution within moments.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

_stop = threading.Event()
_active = threading.Event()  # stop_requested_on_sigint() is in force in the main thread
_WATCHER_DONE = b"\0"  # no signal has number 0: the byte that ends a watcher


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
        request_stop()

    previous = signal.signal(signal.SIGINT, handler)
    _active.set()
    try:
        yield
    finally:
        _active.clear()
        signal.signal(signal.SIGINT, previous)


@contextmanager
def on_sigint(action: Callable[[], None]) -> Iterator[None]:
    """While the block runs, a Ctrl-C requests a stop and calls ``action`` at once, from a
    watcher thread, even while the main thread is blocked in native code.

    Only inside ``stop_requested_on_sigint()`` in the main thread, and only where nothing else
    (an event loop) already listens on the signal wake-up descriptor; elsewhere the block runs
    as it is, and a Ctrl-C is noticed when the native call returns."""
    if (
        not _active.is_set()
        or threading.current_thread() is not threading.main_thread()
        or os.name != "posix"  # select() on a pipe is POSIX only
    ):
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    if previous != -1:  # someone else's: give it back and do without
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
        yield
        return

    def watch() -> None:
        while True:
            select.select([read_end], [], [])
            received = os.read(read_end, 64)
            if bytes([signal.SIGINT]) in received:
                request_stop()
                action()
            if _WATCHER_DONE in received:
                return

    watcher = threading.Thread(target=watch, name="sigint-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(-1)
        os.write(write_end, _WATCHER_DONE)
        watcher.join()
        os.close(read_end)
        os.close(write_end)
