"""Tracing: record what processes do, then look at it (OTP ``dbg`` / ``erlang:trace/3``; Livebook's ``Kino.Process``).

``with gs.trace() as t:`` records every event of the runtime while the block
runs, in the order it happened, each with a sequence number and a monotonic
time: spawns, exits and their reasons, links, monitors, exit signals, every
message sent (classified as call, reply, cast, info, timer, system, EXIT or
DOWN) and received, messages dropped, calls that timed out, and every
supervisor event (child started, exited, restarted, terminated, intensity
reached, the siblings a strategy took down)::

    with gs.trace() as t:
        pid = Stack.start_link([1])
        gs.cast(pid, ("push", 2))
        gs.call(pid, "pop")
    t                       # in Jupyter: a sequence diagram
    print(t.to_mermaid())   # the same as Mermaid text
    gs.viz.sequence_diagram(t)

``gs.trace(only=[pid_or_name, ...])`` keeps only the events that involve
those processes (a name follows whichever process holds it, so a restarted
server stays in the trace).

How it works: the runtime calls a hook (``_kernel._tracer``) in the thread
where each event happens; tracing off, that is one ``is not None`` check.
Recording appends to a list under a lock, so any thread may record. Traces
nest and may overlap (two ``with`` blocks, in any threads): each gets the
events that happen while it is active. ``gs.reset()`` stops every trace.

Rendering is deterministic: a process is shown by its registered name, or by
its class or function name and a per-trace counter (``Stack#1``); the calling
thread is ``shell``; times are relative to the trace's start. Running the
same code twice gives the same Mermaid text. The interpretation of the events
(pairs of calls and replies, names, rows) lives in ``genserver_lite.viz.model``.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import NamedTuple

from . import _kernel as k
from . import timer as _timer
from ._kernel import Pid

__all__ = ["trace", "Trace", "Event", "EVENTS", "untraced"]

EVENTS = ("spawn", "link", "unlink", "monitor", "signal", "exit", "send", "receive", "register",
          "drop", "timeout", "supervisor")


class Event(NamedTuple):
    """One traced event.

    Attributes:
        seq: its place in the order of all traced events (shared by every trace).
        time: seconds since the trace started (``time.monotonic``).
        event: one of :data:`EVENTS`.
        pid: the process that acted (the sender, the parent, the dying process...).
        peer: the other process (receiver, child, target), or None.
        data: the rest: the message and its kind for ``send``, the reason for
            ``exit``, the supervisor's event dict for ``supervisor``...
    """

    seq: int
    time: float
    event: str
    pid: Pid | None
    peer: Pid | None
    data: object


_lock = threading.Lock()        # guards _active, _previous and every trace's event list
_recorded = threading.Condition(_lock)   # notified when an event is kept while someone waits
_waiting = 0                    # how many threads wait in Trace.wait_for
_seq = itertools.count(1)
_active: list["Trace"] = []
_previous = None                # a tracer installed before ours (not a Trace): still called
_untraced: set = set()          # pids no trace records (the live panels' own listeners)


def _dispatch(event, pid, peer, data) -> None:
    """The hook the runtime calls, in the thread where the event happens."""
    now = time.monotonic()
    with _lock:
        seq = next(_seq)
        if pid not in _untraced and peer not in _untraced:
            for tr in _active:
                tr._take(seq, now, event, pid, peer, data)
        if _waiting:
            _recorded.notify_all()
        prev = _previous
    if prev is not None:
        prev(event, pid, peer, data)


class Trace:
    """The events recorded by one :func:`trace` block, and ways to see them.

    Use it as a context manager (``with gs.trace() as t``) or call
    :meth:`start` and :meth:`stop`. A stopped trace keeps its events.

    Args:
        only: None for every process, or a pid, a registered name, or an
            iterable of them: keep only the events involving those processes.
        limit: the most events to keep; later ones are counted in
            :attr:`overflow`, never silently lost.
    """

    def __init__(self, only=None, *, limit: int = 100_000):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int (the most events to keep), got {limit!r}")
        self._only_pids, self._only_names = _parse_only(only)
        self._filtered = only is not None
        self.limit = limit
        self.overflow = 0
        self._events: list[Event] = []
        self._seen: dict[Pid, tuple] = {}   # pid -> (label, name, shell) when first seen
        self._t0 = None
        self.clock0 = None                  # the timer clock at the start (for supervisor times)
        self.active = False
        self._model = None

    # -- recording ------------------------------------------------------------------

    def start(self) -> "Trace":
        """Start recording (again); returns the trace."""
        global _previous
        with _lock:
            if self.active:
                raise RuntimeError("this trace is already recording")
            if self._t0 is None:
                self._t0 = time.monotonic()
                self.clock0 = _timer._clock.now()
            if not _active:
                cur = k._tracer
                _previous = cur if cur is not _dispatch else None
                k._tracer = _dispatch
            _active.append(self)
            self.active = True
            self._model = None
        return self

    def stop(self) -> "Trace":
        """Stop recording (idempotent); the previous tracer, if any, is put back."""
        global _previous
        with _lock:
            for i, tr in enumerate(_active):
                if tr is self:
                    del _active[i]
                    break
            self.active = False
            if not _active and k._tracer is _dispatch:
                k._tracer = _previous
                _previous = None
        return self

    def __enter__(self) -> "Trace":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _take(self, seq, now, event, pid, peer, data) -> None:
        """Record one event (under ``_lock``, in the thread where it happened)."""
        if self._filtered and not self._wants(pid, peer):
            return
        if len(self._events) >= self.limit:
            self.overflow += 1
            return
        self._events.append(Event(seq, now - self._t0, event, pid, peer, data))
        seen = self._seen
        for p in (pid, peer):
            if type(p) is Pid and p not in seen:
                proc = p._proc
                label = data if event == "spawn" and p is peer else proc.label
                seen[p] = (label, proc.name, proc.shell)
        if event == "register" and pid in seen:
            label, _, shell = seen[pid]
            seen[pid] = (label, data, shell)
        self._model = None

    def _wants(self, pid, peer) -> bool:
        for p in (pid, peer):
            if p is None:
                continue
            if p in self._only_pids:
                return True
            name = p._proc.name
            if name is not None and name in self._only_names:
                return True
        return False

    # -- reading --------------------------------------------------------------------

    def wait_for(self, match, timeout: float = 1.0) -> Event:
        """Wait until the trace holds an event for which ``match(event)`` is true, and return it.

        A barrier that sends no message, so it adds nothing to the diagram
        (``gs.testing.wait_until`` with a call would)::

            t.wait_for(lambda e: e.event == "supervisor" and e.data["event"] == "restarted")

        Raises:
            AssertionError: none came within ``timeout`` seconds.
        """
        global _waiting
        if not callable(match):
            raise TypeError(f"wait_for needs a predicate fn(event) -> bool, got {match!r}")
        k.check_timeout(timeout, allow_none=False)
        deadline = time.monotonic() + timeout
        checked = 0
        with _lock:
            _waiting += 1
        try:
            while True:
                with _lock:     # events are appended in seq order, under the lock
                    fresh = self._events[checked:]
                    checked += len(fresh)
                for ev in fresh:            # the predicate runs unlocked: it may trace
                    if match(ev):
                        return ev
                with _lock:
                    if len(self._events) == checked:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise AssertionError(f"no traced event matched {match!r} within "
                                                 f"{timeout} s ({checked} events recorded)")
                        _recorded.wait(left)
        finally:
            with _lock:
                _waiting -= 1

    @property
    def events(self) -> list[Event]:
        """A snapshot of the events, in order (they are appended in ``seq`` order)."""
        with _lock:
            return list(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self):
        return iter(self.events)

    def seen(self, pid: Pid) -> tuple | None:
        """``(label, registered name, is_shell)`` as the trace first saw ``pid``, or None."""
        with _lock:
            return self._seen.get(pid)

    @property
    def model(self):
        """The events interpreted: names, messages, call/reply pairs, rows (``viz.model.TraceModel``)."""
        m = self._model
        if m is None:
            from .viz.model import TraceModel
            m = TraceModel(self)
            if not self.active:
                self._model = m
        return m

    def name(self, pid: Pid) -> str:
        """How this trace shows ``pid``: its registered name, ``Stack#1``, ``shell``..."""
        return self.model.name(pid)

    def messages(self, kind: str | None = None) -> list:
        """The messages, in the order they were sent (``viz.model.Message``), optionally of one kind."""
        return [m for m in self.model.messages if kind is None or m.kind == kind]

    def calls(self) -> list:
        """Each call message with its reply: ``[(call, reply or None), ...]``."""
        return [(m, m.pair) for m in self.model.messages if m.kind == "call" or m.is_request]

    def to_mermaid(self) -> str:
        """The trace as a Mermaid ``sequenceDiagram`` (deterministic text)."""
        from .viz.mermaid import sequence_mermaid
        return sequence_mermaid(self)

    def summary(self) -> str:
        """One line: processes and messages by kind (deterministic, for notebooks)."""
        m = self.model
        kinds: dict[str, int] = {}
        for msg in m.messages:
            kinds[msg.kind] = kinds.get(msg.kind, 0) + 1
        parts = ", ".join(f"{n} {kind}" for kind, n in kinds.items()) or "no messages"
        who = ", ".join(m.participants) or "no processes"
        more = f"; {self.overflow} events over the limit not kept" if self.overflow else ""
        return f"Trace of {len(m.participants)} processes ({who}): {parts}{more}"

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter display: Mermaid (JupyterLab renders it), a PNG for other front ends, and text."""
        bundle = {"text/plain": self.summary(), "text/vnd.mermaid": self.to_mermaid()}
        try:
            from .viz.sequence import png_bytes
            bundle["image/png"] = png_bytes(self)
        except ImportError:     # matplotlib missing: the Mermaid and text forms still show
            pass
        if include:
            bundle = {key: v for key, v in bundle.items() if key in include}
        if exclude:
            bundle = {key: v for key, v in bundle.items() if key not in exclude}
        return bundle


def _parse_only(only) -> tuple[set, set]:
    if only is None:
        return set(), set()
    items = [only] if isinstance(only, (Pid, str)) else only
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"only= must be a pid, a registered name, or an iterable of them, "
                        f"got {only!r}") from None
    pids, names = set(), set()
    for item in items:
        if type(item) is Pid:
            pids.add(item)
        elif isinstance(item, str) and item:
            names.add(item)
        else:
            raise TypeError(f"only= takes pids and registered names; {item!r} is neither")
    if not pids and not names:
        raise ValueError("only= is empty: it would record nothing (pass None to record everything)")
    return pids, names


def trace(only=None, *, limit: int = 100_000) -> Trace:
    """Record the runtime's events while a ``with`` block runs (OTP ``dbg:tracer`` + ``dbg:p``).

    Returns a :class:`Trace`, which records from ``__enter__`` to ``__exit__``
    (or call its ``start()`` and ``stop()``); see the module docstring.
    """
    return Trace(only, limit=limit)


def untraced(pid: Pid, hidden: bool = True) -> None:
    """Keep a process out of every trace (or back in): for tools that watch, like the live panels.

    A notebook's live SupervisorPanel calls ``describe`` on every restart;
    hidden, those calls do not clutter (or change) the traces a lesson draws.
    """
    if type(pid) is not Pid:
        raise TypeError(f"untraced needs a Pid, got {pid!r}")
    with _lock:
        if hidden:
            _untraced.add(pid)
        else:
            _untraced.discard(pid)


def _reset() -> None:
    """gs.reset(): every trace stops recording (their events stay readable)."""
    for tr in list(_active):
        tr.stop()
    with _lock:
        _untraced.clear()


k._reset_hooks.append(_reset)
