"""Timers: a message delivered later (OTP ``erlang:send_after/3``, ``cancel_timer/1``, ``read_timer/1``).

``send_after(dest, msg, seconds)`` returns a :class:`TimerRef`; when the time
comes, ``msg`` is sent to ``dest`` as if by ``send``. This is how a GenServer
does periodic work (Elixir's ``Process.send_after(self(), :tick, 30_000)``)
and how its idle timeouts fire.

All timers share ONE thread, which sleeps until the earliest one is due; a
timer is a heap entry, not a thread. Time is read from a clock that tests can
replace: ``gs.testing.FakeClock`` stops the thread's waiting and fires due
timers itself, synchronously, when a test advances it. No test waits for a
real timer.

As OTP: a name is resolved when the timer fires (a name nobody holds by then
drops the message); a timer to a pid that has died is dropped.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from queue import Empty, SimpleQueue

from . import _kernel as k
from ._kernel import Pid, check_timeout, current

__all__ = ["TimerRef", "send_after", "cancel_timer", "read_timer"]


class TimerRef:
    """The handle of a pending timer, printed like ``#TimerRef<3>``."""

    __slots__ = ("id", "due", "dest", "msg", "owner", "live", "__weakref__")

    def __init__(self, id_, due, dest, msg, owner):
        self.id, self.due, self.dest, self.msg, self.owner = id_, due, dest, msg, owner
        self.live = True

    def __repr__(self) -> str:
        return f"#TimerRef<{self.id}>"


class MonotonicClock:
    """The real clock: ``time.monotonic``."""

    fake = False

    @staticmethod
    def now() -> float:
        return time.monotonic()


_clock = MonotonicClock()
_lock = threading.Lock()
_heap: list = []              # (due, seq, TimerRef); cancelled entries are skipped lazily
_ids = itertools.count(1)
_wake: SimpleQueue = SimpleQueue()
_STOP = object()
_thread: threading.Thread | None = None


def _check_dest(dest) -> None:
    t = type(dest)
    if t is Pid or t is str or (t is tuple and len(dest) == 3 and dest[0] == "via"):
        return
    raise TypeError(f"a timer's destination must be a Pid, a registered name or a via tuple, "
                    f"got {dest!r}")


def send_after(dest, msg, seconds: float) -> TimerRef:
    """Send ``msg`` to ``dest`` after ``seconds`` (OTP ``erlang:send_after/3``).

    ``dest`` is a Pid, a registered name or a via tuple; a name is looked up
    when the timer fires.
    """
    check_timeout(seconds, "seconds", allow_none=False)
    _check_dest(dest)
    owner = current().pid
    global _thread
    with _lock:
        ref = TimerRef(next(_ids), _clock.now() + seconds, dest, msg, owner)
        heapq.heappush(_heap, (ref.due, ref.id, ref))
        earliest = _heap[0][2] is ref
        if not _clock.fake and (_thread is None or not _thread.is_alive()):
            _thread = threading.Thread(target=_run, name="gs timers")
            k.start_thread(_thread)
    if earliest and not _clock.fake:
        _wake.put(None)
    return ref


def _check_ref(ref, fn) -> None:
    if type(ref) is not TimerRef:
        raise TypeError(f"{fn} needs a TimerRef from send_after, got {ref!r}")


def cancel_timer(ref: TimerRef):
    """Cancel a timer (OTP ``erlang:cancel_timer/1``): seconds it had left, or False if it already fired or was cancelled."""
    _check_ref(ref, "cancel_timer")
    with _lock:
        if not ref.live:
            return False
        ref.live = False
        return max(0.0, ref.due - _clock.now())


def read_timer(ref: TimerRef):
    """Seconds left on a timer (OTP ``erlang:read_timer/1``), or False if it fired or was cancelled."""
    _check_ref(ref, "read_timer")
    with _lock:
        if not ref.live:
            return False
        return max(0.0, ref.due - _clock.now())


def fire_due() -> int:
    """Deliver every timer due by the clock's present time, in due order; returns how many.

    The timer thread calls it; so does ``FakeClock.advance``, in the test's thread.
    """
    fired = 0
    while True:
        with _lock:
            if not _heap or _heap[0][0] > _clock.now():
                return fired
            _, _, ref = heapq.heappop(_heap)
            if not ref.live:
                continue
            ref.live = False
        _fire(ref)
        fired += 1


def _fire(ref: TimerRef) -> None:
    dest = ref.dest
    if type(dest) is Pid:
        target = dest._proc
    else:
        target = k.resolve(dest)
    if target is not None:
        k.deliver(ref.owner, target, ref.msg, "timer")
    elif k._tracer is not None:
        k._tracer("drop", ref.owner, None, (ref.msg, f"timer to unregistered name {dest!r}"))


def _next_wait():
    with _lock:
        while _heap and not _heap[0][2].live:
            heapq.heappop(_heap)
        if not _heap:
            return None
        return max(0.0, _heap[0][0] - _clock.now())


def _run() -> None:
    while True:
        fire_due()
        wait = None if _clock.fake else _next_wait()
        try:
            cmd = _wake.get(timeout=wait) if wait is not None else _wake.get()
        except Empty:
            continue
        if cmd is _STOP:
            return


def use_clock(clock) -> object:
    """Make timers read ``clock`` (``now()`` in seconds, ``fake`` True to stop real waiting); returns the old clock.

    Only when no timer is pending: their due times belong to the old clock.
    """
    global _clock
    with _lock:
        if any(entry[2].live for entry in _heap):
            raise RuntimeError("cannot change the clock while timers are pending; call gs.reset() first")
        old, _clock = _clock, clock
        _heap.clear()
    _stop_thread()
    return old


def restore_clock() -> None:
    """Cancel every pending timer and go back to the real clock (leaving a FakeClock)."""
    _reset()


def _stop_thread() -> None:
    global _thread
    t = _thread
    if t is not None and t.is_alive():
        _wake.put(_STOP)
        t.join()
    _thread = None
    while True:     # leave no stale wake-ups for the next thread
        try:
            _wake.get_nowait()
        except Empty:
            break


def _reset() -> None:
    global _clock
    with _lock:
        for _, _, ref in _heap:
            ref.live = False
        _heap.clear()
        _clock = MonotonicClock()
    _stop_thread()


k._reset_hooks.append(_reset)
