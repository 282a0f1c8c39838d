"""Exercises of notebook 10, performance (``solutions/10_performance.ipynb``).

10.1 · A checkout/checkin worker pool with a queue: ``WorkerPool`` hands out
each worker to one client at a time, in order; a checkout with every worker
busy gets no reply until a checkin (a deferred reply), waiting callers are
served oldest first, and the pool monitors its clients, so a client that
crashes gives its worker back and one that dies while waiting leaves the
queue. The checks judge the pool by what its clients see, never by its
state, so any state layout passes.

The clients are processes started by the checks (:func:`_client`). To know
that the pool has *handled* a client's checkout (so that the order of the
queue is the order the check chose), a check traces the run and waits for
the pool to take the client's call from its mailbox, then asks for the
pool's state, which is answered after that call was handled.
"""

from __future__ import annotations

import genserver_lite as gs

from ..core import Exercise
from ..probes import call, cast, expect, reason_text, start, state

__all__ = ["POOL"]

_HANDOVER = 0.5    # seconds a correct pool needs, at most, to hand a worker to a waiting client
_QUIET = 0.1       # seconds a waiting client must stay without a worker to count as waiting


POOL = Exercise("10.1", "A checkout/checkin worker pool with a queue", notebook="10_performance",
                stars=3, minutes=30, names=["WorkerPool"])


class _Worker(gs.GenServer):
    """A worker the checks hand to the pool: it only knows its own number."""

    def init(self, i):
        return ("ok", i)


class _Run:
    """One check's pool, its workers and their labels (w1, w2, ...), and a trace to wait on."""

    def __init__(self, ns, n):
        self.workers = [start(_Worker, i) for i in range(1, n + 1)]
        self.labels = {w: f"w{i}" for i, w in enumerate(self.workers, 1)}
        self.pool = start(ns["WorkerPool"], list(self.workers))
        self.trace = gs.trace(only=[self.pool])
        self.trace.start()
        self.me = gs.self()

    def label(self, x) -> str:
        if x in self.labels:
            return self.labels[x]
        return "a pid that is not one of the workers" if isinstance(x, gs.Pid) else repr(x)

    def checkout(self) -> str:
        """A checkout by the check itself; the worker's label."""
        return self.label(call(self.pool, "checkout"))

    def checkin(self, label: str) -> None:
        cast(self.pool, ("checkin", self.worker(label)))

    def worker(self, label: str):
        return next(w for w, name in self.labels.items() if name == label)

    def client(self):
        """Start a client process whose checkout the pool has received and handled; its pid."""
        pid = gs.spawn(_client, self.me, self.pool)
        try:
            self.trace.wait_for(lambda e: e.event == "receive" and e.pid == self.pool
                                and _is_checkout_from(e.data, pid), timeout=1.0)
        except AssertionError:
            raise AssertionError("the pool did not take a client's checkout call from its mailbox "
                                 "within 1 s (is a callback blocked?)") from None
        state(self.pool)          # answered after the client's checkout was handled
        return pid

    def got(self, client, what: str) -> str:
        """The worker ``client`` got, waiting up to _HANDOVER seconds; fails the check if none came."""
        try:
            msg = gs.receive(lambda m: type(m) is tuple and m[:2] in (("got", client), ("failed", client)),
                             timeout=_HANDOVER)
        except gs.ReceiveTimeout:
            raise AssertionError(f"{what} got no worker within {_HANDOVER:g} s") from None
        if msg[0] == "failed":
            raise AssertionError(f"{what}: its checkout failed: {msg[2]}")
        return self.label(msg[2])

    def waits(self, client, what: str) -> None:
        """Fail the check if ``client`` gets an answer within _QUIET seconds."""
        try:
            msg = gs.receive(lambda m: type(m) is tuple and m[:2] in (("got", client), ("failed", client)),
                             timeout=_QUIET)
        except gs.ReceiveTimeout:
            return
        got = self.label(msg[2]) if msg[0] == "got" else f"a failure ({msg[2]})"
        raise AssertionError(f"{what} was answered with {got} while every worker was checked out: "
                             f"it must wait for a checkin")

    def kill(self, pid) -> None:
        """Kill a client and wait for its death (the pool, monitoring it, got its DOWN at the same time)."""
        ref = gs.monitor(pid)
        gs.exit(pid, "kill")
        gs.receive(lambda m: type(m) is tuple and m[:2] == ("DOWN", ref), timeout=1.0)


def _is_checkout_from(msg, pid) -> bool:
    return (type(msg) is tuple and len(msg) == 3 and msg[0] == "$gen_call" and type(msg[1]) is tuple
            and msg[1][0] == pid and msg[2] == "checkout")


def _client(check, pool):
    """A client process: check a worker out (waiting as long as it takes), report it to the
    check, then check it in when told ("checkin") or end without a word ("leave")."""
    try:
        worker = gs.call(pool, "checkout", timeout=None)
    except gs.Exit as e:
        gs.send(check, ("failed", gs.self(), reason_text(e.reason)))
        return
    gs.send(check, ("got", gs.self(), worker))
    if gs.receive(lambda m: m in ("checkin", "leave")) == "checkin":
        gs.cast(pool, ("checkin", worker))
        gs.receive(lambda m: m == "leave")


@POOL.check("checkout hands out each idle worker once, in order; checkin puts it at the back",
            hint="keep the idle workers in a list: checkout replies with the first one and removes it; "
                 "checkin appends the worker at the end")
def _in_order(ns):
    run = _Run(ns, 3)
    expect([run.checkout() for _ in range(3)], ["w1", "w2", "w3"],
           "three checkouts from WorkerPool([w1, w2, w3])")
    run.checkin("w2")
    expect(run.checkout(), "w2", "a checkout after w2 was checked in")
    run.checkin("w3")
    run.checkin("w1")
    expect([run.checkout(), run.checkout()], ["w3", "w1"], "two checkouts after w3, then w1, were checked in")


@POOL.check("with every worker checked out, checkout waits and the next checkin answers it",
            hint="when no worker is idle, keep from_ in a queue and return ('noreply', state); "
                 "on checkin, gs.reply(from_, worker) to the first caller in the queue")
def _waits_for_checkin(ns):
    run = _Run(ns, 1)
    expect(run.checkout(), "w1", "the first checkout")
    client = run.client()
    run.waits(client, "a second client's checkout")
    run.checkin("w1")
    expect(run.got(client, "the waiting client, after w1 was checked in,"), "w1", "the waiting client's worker")


@POOL.check("waiting clients get workers in the order they asked, oldest first",
            hint="append a new waiter at the end of the queue, and serve the first one (first in, first out)")
def _oldest_first(ns):
    run = _Run(ns, 1)
    run.checkout()
    a, b, c = run.client(), run.client(), run.client()
    run.checkin("w1")
    expect(run.got(a, "the first waiting client"), "w1", "the first waiting client's worker")
    run.waits(b, "the second waiting client, while the first holds w1,")
    gs.send(a, "checkin")
    expect(run.got(b, "the second waiting client"), "w1", "the second waiting client's worker")
    gs.send(b, "checkin")
    expect(run.got(c, "the third waiting client"), "w1", "the third waiting client's worker")


@POOL.check("a client that crashes holding a worker gives it back to the pool",
            hint="monitor the client (from_[0]) at checkout; on its ('DOWN', ref, 'process', pid, reason), "
                 "hand the worker it held to the oldest waiter, or back to the idle list")
def _crashed_client(ns):
    run = _Run(ns, 1)
    holder = run.client()
    expect(run.got(holder, "the first client"), "w1", "the first client's worker")
    waiter = run.client()
    run.waits(waiter, "a second client's checkout, while the first held w1,")
    run.kill(holder)
    expect(run.got(waiter, "a client waiting when the holder crashed"), "w1", "the waiting client's worker")
    run.kill(waiter)
    expect(run.checkout(), "w1", "a checkout after the second holder crashed too")


@POOL.check("a client that dies while waiting leaves the queue",
            hint="on a DOWN for a client still in the queue, remove it from the queue: a worker handed "
                 "to a dead caller is lost")
def _dead_waiter(ns):
    run = _Run(ns, 1)
    run.checkout()
    waiter = run.client()
    run.waits(waiter, "a second client's checkout")
    run.kill(waiter)
    state(run.pool)                         # the pool handled the waiter's DOWN
    run.checkin("w1")
    expect(run.checkout(), "w1", "a checkout after the only waiter died and w1 was checked in")


@POOL.check("a client that checked its worker in and then ends takes nothing back with it",
            hint="at checkin, forget the checkout and gs.demonitor(ref, flush=True) its monitor, so the "
                 "client's later DOWN does not hand the worker out a second time")
def _checked_in_then_gone(ns):
    run = _Run(ns, 2)
    client = run.client()
    expect(run.got(client, "a client"), "w1", "the client's worker")
    gs.send(client, "checkin")
    ref = gs.monitor(client)
    gs.send(client, "leave")
    gs.receive(lambda m: type(m) is tuple and m[:2] == ("DOWN", ref), timeout=1.0)
    state(run.pool)                         # its DOWN (if still monitored) is handled
    expect([run.checkout(), run.checkout()], ["w2", "w1"], "two checkouts after the client checked w1 in "
                                                             "and ended")
    waiter = run.client()
    run.waits(waiter, "a third checkout, with both workers checked out,")
