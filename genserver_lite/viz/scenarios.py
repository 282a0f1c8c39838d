"""Small real runs to look at: each function runs a scenario under ``gs.trace`` and returns the Trace.

They back the gallery (``python -m genserver_lite.viz.gallery OUTDIR``), the
golden Mermaid tests and the lessons' first pictures. Each one is written to
be deterministic: it waits through messages, monitors or
:meth:`Trace.wait_for`, never by sleeping, and sends nothing whose timing
could change the order of what the diagram shows. Call ``gs.reset()``
before each, as a notebook section does.
"""

from __future__ import annotations

from .. import gen, process
from ..genserver import GenServer
from ..testing import assert_receive, crash
from ..trace import trace

__all__ = ["Stack", "Deferring", "call_and_cast", "deferred_reply", "timeout", "crash_restart",
           "one_for_all", "many_messages", "restart_storm"]


class Stack(GenServer):
    """The course's first server: ``push`` by cast, ``pop`` by call."""

    def init(self, items):
        return ("ok", list(items or []))

    def handle_call(self, request, from_, state):
        match request:
            case "pop":
                head, *rest = state
                return ("reply", head, rest)
            case "size":
                return ("reply", len(state), state)

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                return ("noreply", [item, *state])
            case "boom":
                raise RuntimeError("boom")


class Deferring(GenServer):
    """Answers ``("work", x)`` later: it hands ``from_`` to a worker process, which replies."""

    def init(self, _arg):
        return ("ok", None)

    def handle_call(self, request, from_, state):
        match request:
            case ("work", x):
                process.spawn(_worker, from_, x)
                return ("noreply", state)
            case "hold":
                return ("noreply", from_)      # keep the caller waiting; "release" answers

    def handle_cast(self, request, state):
        match request:
            case "release":
                gen.reply(state, "late")
                return ("noreply", None)


def _worker(from_, x):
    gen.reply(from_, x * 2)


def call_and_cast():
    """A cast then a call to a Stack: the pair every lesson starts from."""
    with trace() as t:
        pid = Stack.start_link([1])
        gen.cast(pid, ("push", 2))
        gen.call(pid, "pop")
    return t


def deferred_reply():
    """A call answered by another process through ``gs.reply``."""
    pid = Deferring.start_link()
    with trace() as t:
        gen.call(pid, ("work", 21))
        t.wait_for(lambda e: e.event == "exit")     # the worker is done
    return t


def timeout():
    """A call that times out; the reply that comes later is dropped."""
    pid = Deferring.start_link()
    with trace() as t:
        try:
            gen.call(pid, "hold", timeout=0.05)
        except Exception as e:      # noqa: BLE001 - CallTimeout is the point of the scenario
            assert type(e).__name__ == "CallTimeout", e
        gen.cast(pid, "release")
        t.wait_for(lambda e: e.event == "drop")
    return t


def _sup_event(t, event, id_, after: int = 0):
    return t.wait_for(lambda e: e.seq > after and e.event == "supervisor"
                      and e.data["event"] == event and e.data["id"] is id_)


def crash_restart():
    """A Stack under a supervisor crashes in a handler; the supervisor restarts it."""
    from ..supervisor import Supervisor
    sup = Supervisor.start_link([Stack], strategy="one_for_one", name="sup")
    pid = Supervisor.which_children(sup)[0][1]
    with trace() as t:
        gen.cast(pid, "boom")
        _sup_event(t, "restarted", Stack)
    return t


class A(Stack):
    """A sibling, for the strategies."""


class B(Stack):
    """The sibling that crashes."""


class C(Stack):
    """A sibling started after B."""


def one_for_all():
    """B crashes under one_for_all: the supervisor takes A and C down and restarts all three."""
    from ..supervisor import Supervisor
    sup = Supervisor.start_link([A, B, C], strategy="one_for_all", name="sup")
    kids = {c[0]: c[1] for c in Supervisor.which_children(sup)}
    with trace() as t:
        gen.cast(kids[B], "boom")
        _sup_event(t, "restarted", C)
    return t, sup


def restart_storm(fake_clock):
    """B crashes four times in a row under max_restarts=3: the supervisor gives up and escalates.

    Uses a :class:`~genserver_lite.testing.FakeClock` (``fake_clock``) so
    the restarts are one simulated second apart.
    """
    from ..supervisor import Supervisor
    sup = Supervisor.start([A, B, C], strategy="rest_for_one", max_restarts=3, max_seconds=5.0,
                           name="sup")
    ref = process.monitor(sup)
    pid = dict((c[0], c[1]) for c in Supervisor.which_children(sup))[B]
    with trace() as t:
        last = 0
        for i in range(4):
            crash(pid, f"crash {i + 1}")
            if i < 3:
                last = _sup_event(t, "restarted", C, after=last).seq
                pid = next(e.data["pid"] for e in reversed(t.events)
                           if e.event == "supervisor" and e.data["event"] == "restarted"
                           and e.data["id"] is B)
                fake_clock.advance(1.0)
        assert_receive(("DOWN", ref, "process", sup, ...), 2.0)
    return t


def many_messages(n: int = 60):
    """``n`` casts and calls between two processes: a trace long enough to wrap."""
    with trace() as t:
        pid = Stack.start_link([])
        for i in range(n // 2):
            gen.cast(pid, ("push", i))
            gen.call(pid, "size")
    return t
