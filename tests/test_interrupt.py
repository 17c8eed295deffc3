"""Ctrl-C during the search is a request to stop, not an exception, and only inside the search."""

from __future__ import annotations

import os
import signal
import time

from scheduler.interrupt import request_stop, stop_requested, stop_requested_on_sigint


def test_sigint_inside_the_block_requests_a_stop_instead_of_raising():
    before = signal.getsignal(signal.SIGINT)
    with stop_requested_on_sigint():
        assert not stop_requested()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs at the next bytecode boundary
        assert stop_requested()
    assert signal.getsignal(signal.SIGINT) is before


def test_entering_the_block_clears_an_earlier_request():
    request_stop()
    with stop_requested_on_sigint():
        assert not stop_requested()
