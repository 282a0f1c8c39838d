"""Testing helpers: wait on conditions and messages, never on the wall clock (ExUnit's ``assert_receive``).

* :func:`assert_receive` / :func:`refute_receive`: the caller's mailbox as a
  test oracle. A *pattern* is a predicate, or a value compared with ``==``
  in which ``...`` (Ellipsis) matches any element, and a trailing ``...``
  the rest: ``("DOWN", ref, ...)``.
* :func:`wait_until`: poll a condition, for state that no message announces.
* :class:`FakeClock`: timers (``send_after``, GenServer idle timeouts) follow
  a clock the test advances, so a 30-second periodic job is tested in
  microseconds.
* pytest fixtures, in :mod:`genserver_lite.pytest_plugin` (registered as a
  pytest plugin when the package is installed): ``fake_clock`` and
  ``start_supervised`` (ExUnit's ``start_supervised!``).
"""

from __future__ import annotations

import math
import time

from . import timer
from ._kernel import check_timeout, current
from .errors import ReceiveTimeout
from .gen import _target, request
from .process import drain, receive

__all__ = ["wait_until", "assert_receive", "refute_receive", "matches", "FakeClock", "crash"]


def matches(pattern, msg) -> bool:
    """Whether ``msg`` matches ``pattern``: a predicate, or a value where ``...`` is a wildcard.

    Inside a tuple or list pattern, ``...`` matches any one element, except as
    the *last* element, where it matches the rest (zero or more elements):
    ``("DOWN", ref, ...)`` matches any DOWN message for ``ref``, as Python's
    own use of ``...`` for "and so on" suggests.
    """
    if pattern is ...:
        return True
    if callable(pattern) and not isinstance(pattern, type):
        return bool(pattern(msg))
    if type(pattern) in (tuple, list):
        if type(msg) is not type(pattern):
            return False
        if pattern and pattern[-1] is ...:
            head = pattern[:-1]
            return len(msg) >= len(head) and all(matches(p, m) for p, m in zip(head, msg))
        return len(msg) == len(pattern) and all(matches(p, m) for p, m in zip(pattern, msg))
    try:
        return bool(pattern == msg)
    except Exception:  # noqa: BLE001 - an exotic __eq__ is simply no match
        return False


def _predicate(pattern):
    return None if pattern is None else (lambda m: matches(pattern, m))


def _mailbox() -> list:
    me = current()
    drain(me)
    return list(me.saved)


def assert_receive(pattern=None, timeout: float = 0.1):
    """Receive a message matching ``pattern`` within ``timeout`` seconds and return it (ExUnit ``assert_receive``).

    Raises:
        AssertionError: none came; the message lists what the mailbox holds.
    """
    check_timeout(timeout, allow_none=False)
    try:
        return receive(_predicate(pattern), timeout)
    except ReceiveTimeout:
        held = _mailbox()
        raise AssertionError(
            f"no message matching {pattern!r} arrived within {timeout} s; the mailbox holds "
            f"{len(held)} message(s): {held[:10]!r}") from None


def refute_receive(pattern=None, timeout: float = 0.1) -> None:
    """Assert that no message matching ``pattern`` arrives within ``timeout`` (ExUnit ``refute_receive``)."""
    check_timeout(timeout, allow_none=False)
    try:
        got = receive(_predicate(pattern), timeout)
    except ReceiveTimeout:
        return None
    raise AssertionError(f"unexpectedly received {got!r} (matching {pattern!r})")


def wait_until(fn, timeout: float = 1.0):
    """Poll ``fn()`` until it returns something truthy, and return that (the source's ``wait_until``, done right).

    Polls with a short backoff, so it reacts within milliseconds; prefer a
    message, a monitor or ``gs.sys.get_state`` when one can tell you instead.

    Raises:
        AssertionError: still falsy after ``timeout`` seconds.
    """
    if not callable(fn):
        raise TypeError(f"wait_until needs a function to poll, got {fn!r}")
    check_timeout(timeout, allow_none=False)
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition {getattr(fn, '__name__', fn)!r} still false after {timeout} s "
                                 f"(last value {value!r})")
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def crash(server, reason="injected crash") -> None:
    """Make a GenServer crash as if one of its callbacks had raised (fault injection, for lessons and tests).

    Unlike ``gs.exit(pid, "kill")``, this is a crash *inside* the server:
    ``terminate`` runs, the crash is logged, and the process exits with
    ``reason`` (an exception is raised as itself; anything else as
    ``gs.Exit(reason)``). It is a system message, so it queues behind the
    messages already sent. Returns once the server has taken it.

    Raises:
        NoProc: no such server.
        TypeError: the process is not a GenServer (a plain process or a
            Task would take the crash request as an ordinary message).
    """
    p = _target(server, "crash")
    if p.behaviour in (None, "Task"):
        raise TypeError(f"gs.testing.crash needs a GenServer (or a supervisor or registry); {server!r} "
                        f"is a plain process running {p.label!r}: use gs.exit(pid, reason) to end it")
    request(server, "$system", ("crash", reason), 5.0, "system")


class FakeClock:
    """A clock that moves only when told to: timers then fire in the test's own thread.

    Use it as a context manager (or the ``fake_clock`` fixture)::

        with FakeClock() as clock:
            pid = Ticker.start_link()       # schedules a tick in 30 s
            clock.advance(30)               # the tick is delivered now
            gs.sys.get_state(pid)           # barrier: the tick was handled

    ``advance`` delivers every timer due by the new time, in due order. A
    timer that a process sets in reaction counts from the new time, so step
    periodic work one period at a time, with a barrier between steps.
    Installing the clock needs no timer pending; leaving it cancels the
    timers it holds and brings back the real clock.
    """

    fake = True

    def __init__(self, start: float = 0.0):
        if isinstance(start, bool) or not isinstance(start, (int, float)):
            raise TypeError(f"FakeClock(start=...) must be a number of seconds, got {start!r}")
        if not math.isfinite(start):
            raise ValueError(f"FakeClock(start=...) must be a finite number of seconds, got {start!r}")
        self._now = float(start)
        self._old = None

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> int:
        """Move the clock forward and deliver the timers now due; returns how many fired."""
        check_timeout(seconds, "seconds", allow_none=False)
        self._now += seconds
        return timer.fire_due()

    def __enter__(self) -> "FakeClock":
        self._old = timer.use_clock(self)
        return self

    def __exit__(self, *exc) -> None:
        timer.restore_clock()
