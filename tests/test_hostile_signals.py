"""Ctrl-C during training is handled like SIGTERM: the loop's StopFlag records it, and the run stops at the next
optimizer step with a resumable checkpoint instead of a KeyboardInterrupt traceback; a second Ctrl-C stops at once."""

from __future__ import annotations

import os
import signal

import pytest

from embnorm.train.loop import StopFlag


def _send(signum: int) -> None:
    os.kill(os.getpid(), signum)  # Python runs the handler when os.kill returns, in this (the main) thread


def test_sigint_sets_the_stop_flag_like_sigterm():
    before = signal.getsignal(signal.SIGINT)
    flag = StopFlag()
    with flag.installed():
        try:
            _send(signal.SIGINT)
        except KeyboardInterrupt:
            pytest.fail("SIGINT raised KeyboardInterrupt inside training instead of setting the stop flag")
        assert flag.signal == "SIGINT"
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C: stop now
            _send(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_is_still_a_flag():
    flag = StopFlag()
    with flag.installed():
        _send(signal.SIGTERM)
    assert flag.signal == "SIGTERM"
