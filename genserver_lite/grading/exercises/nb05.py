"""Exercises of notebook 05, calls, casts and info (``solutions/05_calls_casts_info.ipynb``).

05.1 · A deferred reply: a server whose ``handle_call`` fetched a page
itself, blocking every other request, rewritten to hand the work and
``from_`` to a Task that answers the caller with ``gs.reply``.

05.2 · Many pending callers: a lookup server that keeps every pending caller
under its task's ref, starts tasks with ``TaskSupervisor.async_nolink`` so a
crash is a message, and owns a deadline per lookup.

05.3 · A batch processor: flushed by size and by time, with tagged timers so
a stale timer message cannot flush the next batch early, and a flush in
``terminate`` when a supervisor shuts it down.

The slow work in the checks never sleeps: the learner's server receives a
function from the check that reports to the check and, for a "slow" key,
waits until the check sends ``("go", key)``. Deadlines and batch timeouts run
on ``gs.testing.FakeClock``. A failing check costs at most about a second.
"""

from __future__ import annotations

import genserver_lite as gs

from ..core import Exercise
from ..probes import call, cast, expect, reason_text, start, state

__all__ = ["FETCHER", "LOOKUP", "BATCH"]

_WAIT = 1.0      # seconds a check waits for something the learner's code should do at once
_SOON = 0.5      # ... where a wrong solution makes it wait in vain, in checks that may do so twice


# -- helpers shared by the three exercises ------------------------------------------------------

def _next(tag: str, key, missing: str, timeout: float = _WAIT):
    """The next message ``(tag, key, ...)`` in the check's mailbox; fails with ``missing`` if none comes."""
    try:
        return gs.receive(lambda m: type(m) is tuple and len(m) >= 2 and m[:2] == (tag, key),
                          timeout=timeout)
    except gs.ReceiveTimeout:
        raise AssertionError(missing) from None


class _NoAnswer:
    """What a caller reports when its call raised (CallTimeout, NoProc, Exit) instead of answering."""

    def __init__(self, error: str):
        self.error = error

    def __repr__(self) -> str:
        return f"no answer ({self.error})"


def _client(check, server, request, timeout: float) -> None:
    """A caller in a process of its own: makes one call and sends the check ``("answer", request, answer)``."""
    try:
        answer = gs.call(server, request, timeout)
    except gs.Exit as e:
        answer = _NoAnswer(type(e).__name__)
    gs.send(check, ("answer", request, answer))


def _ask(server, request, timeout: float = _SOON) -> None:
    """Start a caller of ``request`` that reports its answer to this check."""
    gs.spawn(_client, gs.self(), server, request, timeout)


def _answer(request, timeout: float = _SOON):
    """The answer the caller of ``request`` got (``no answer (CallTimeout)`` if its call raised)."""
    msg = _next("answer", request, f"the caller of {request!r} did not report within {timeout:g} s",
                timeout + _SOON)
    return msg[2]


def _call(server, request, silent: str, timeout: float = _WAIT):
    """``probes.call``, with ``silent`` saying what a missing reply means in this check."""
    try:
        return call(server, request, timeout)
    except AssertionError as e:
        if isinstance(e.__cause__, gs.CallTimeout):
            raise AssertionError(f"call {request!r} got no reply within {timeout:g} s: {silent}") from None
        raise


class _Worker:
    """The slow dependency the checks hand to the learner's server.

    Called as ``fn(key)`` in whatever process the learner runs it: it tells the
    check ``("working", key, pid)``; ``"bad..."`` raises LookupError; ``"slow..."``
    waits for ``("go", key)``; then it returns ``f"<{key}>"``.
    """

    def __init__(self, check):
        self.check = check

    def __call__(self, key):
        gs.send(self.check, ("working", key, gs.self()))
        if str(key).startswith("bad"):
            raise LookupError(f"no entry for {key!r}")
        if str(key).startswith("slow"):
            gs.receive(lambda m: m == ("go", key))
        return f"<{key}>"

    def __repr__(self) -> str:
        return "<the check's fetch function>"


def _started(key, while_: str = "") -> object:
    """The pid of the process that runs the work for ``key``, once it has started."""
    return _next("working", key, f"the work for {key!r} did not start within {_SOON:g} s{while_}",
                 _SOON)[2]


def _release(worker, key) -> None:
    gs.send(worker, ("go", key))


# -- 05.1 · A deferred reply -------------------------------------------------------------------

FETCHER = Exercise("05.1", "A deferred reply", notebook="05_calls_casts_info", stars=1, minutes=10,
                   names=["Fetcher"])

_BLOCKED = "the server is busy fetching: hand the fetch to a task and return ('noreply', state)"
_NOBODY = "nobody answered; does the task call gs.reply(from_, page)?"


@FETCHER.check("a 'get' call replies with the page, and 'ping' with 'pong'",
               hint="the task runs fetch(url) and answers the caller with gs.reply(from_, page)")
def _get(ns):
    pid = start(ns["Fetcher"], _Worker(gs.self()))
    expect(_call(pid, ("get", "home"), _NOBODY), "<home>", "the reply to ('get', 'home')")
    expect(call(pid, "ping"), "pong", "the reply to 'ping'")


@FETCHER.check("the server answers 'ping' while a page is being fetched",
               hint="in handle_call, start gs.Task.start(fetch_and_reply, from_, fetch, url) and return "
                    "('noreply', state) at once")
def _responsive(ns):
    pid = start(ns["Fetcher"], _Worker(gs.self()))
    _ask(pid, ("get", "slow"))
    worker = _started("slow")
    expect(_call(pid, "ping", _BLOCKED, timeout=0.5), "pong", "the reply to 'ping' during the fetch")
    _release(worker, "slow")
    expect(_answer(("get", "slow")), "<slow>", "the answer to ('get', 'slow')")


@FETCHER.check("two pages are fetched at the same time",
               hint="one task per 'get': the server only starts it, so the next request can start another")
def _concurrent(ns):
    pid = start(ns["Fetcher"], _Worker(gs.self()))
    _ask(pid, ("get", "slow1"))
    _ask(pid, ("get", "slow2"))
    workers = {key: _started(key, " while the other fetch was running") for key in ("slow1", "slow2")}
    for key, worker in workers.items():
        _release(worker, key)
    expect({key: _answer(("get", key)) for key in workers}, {"slow1": "<slow1>", "slow2": "<slow2>"},
           "the answers to the two gets, by page")


@FETCHER.check("each caller gets its own page, even when the later fetch ends first",
               hint="give each task the from_ of its own call: gs.reply(from_, page) in the task, "
                    "nothing about the caller kept in the server's state")
def _own_answer(ns):
    pid = start(ns["Fetcher"], _Worker(gs.self()))
    _ask(pid, ("get", "slow1"))
    first = _started("slow1")
    _ask(pid, ("get", "slow2"))
    second = _started("slow2", " while the other fetch was running")
    _release(second, "slow2")
    expect(_answer(("get", "slow2")), "<slow2>", "the answer to ('get', 'slow2'), which ended first")
    _release(first, "slow1")
    expect(_answer(("get", "slow1")), "<slow1>", "the answer to ('get', 'slow1'), which ended last")


@FETCHER.check("a fetch that crashes leaves the server alive and answering",
               hint="gs.Task.start runs the task unlinked: its crash is not the server's; "
                    "Task.async_ or start_link would take the server down with it")
def _survives(ns):
    pid = start(ns["Fetcher"], _Worker(gs.self()))
    _ask(pid, ("get", "bad"), timeout=0.2)      # nobody will answer it: that is the lesson's point
    task = _started("bad")
    ref = gs.monitor(task)
    _next("DOWN", ref, f"the task that fetched 'bad' did not end within {_WAIT:g} s")
    expect(call(pid, "ping"), "pong", "the reply to 'ping' after a fetch crashed")
    expect(_call(pid, ("get", "home"), _NOBODY), "<home>",
           "the reply to ('get', 'home') after a fetch crashed")


# -- 05.2 · Many pending callers ----------------------------------------------------------------

LOOKUP = Exercise("05.2", "Many pending callers", notebook="05_calls_casts_info", stars=2, minutes=20,
                  names=["Lookup"])

_DEADLINE = 5.0        # the server's own deadline in the checks (a fake clock: no real waiting)


def _lookup_server(ns):
    """A TaskSupervisor 'lookup_tasks' and a Lookup using it, the check's worker, and _DEADLINE."""
    gs.TaskSupervisor.start_link(name="lookup_tasks")
    opts = {"tasks": "lookup_tasks", "lookup": _Worker(gs.self()), "deadline": _DEADLINE}
    return start(ns["Lookup"], opts)


def _pending(pid, after: str) -> dict:
    """The server's pending dict, read with gs.sys.get_state; a crash says what it followed."""
    try:
        s = state(pid)
    except AssertionError as e:
        raise AssertionError(f"after {after}, {e}") from e.__cause__
    if not isinstance(s, dict) or not isinstance(s.get("pending"), dict):
        raise AssertionError(f"the state is {s!r}; expected a dict whose 'pending' is a dict, as the "
                             f"notebook's TimeoutServer")
    return s["pending"]


@LOOKUP.check("a get replies ('ok', value)",
              hint="start the lookup with gs.TaskSupervisor.async_nolink(state['tasks'], "
                   "state['lookup'], key), keep (task, from_, timer) under task.ref, and reply "
                   "('ok', value) when (ref, value) arrives")
def _lookup_ok(ns):
    with gs.testing.FakeClock():
        pid = _lookup_server(ns)
        silent = "does handle_info reply ('ok', value) when the task's (ref, value) arrives?"
        expect(_call(pid, ("get", "ada"), silent), ("ok", "<ada>"), "the reply to ('get', 'ada')")
        expect(_call(pid, ("get", "bob"), silent), ("ok", "<bob>"), "the reply to ('get', 'bob')")


@LOOKUP.check("five callers wait at once, and each gets its own value",
              hint="keep every pending caller: pending is a dict {task.ref: (task, from_, timer)}, "
                   "one entry per call, removed when that task answers")
def _five_callers(ns):
    with gs.testing.FakeClock():
        pid = _lookup_server(ns)
        keys = [f"slow{i}" for i in range(5)]
        for key in keys:
            _ask(pid, ("get", key))
        workers = {key: _started(key, " while other lookups were running") for key in keys}
        for key in reversed(keys):
            _release(workers[key], key)
            expect(_answer(("get", key)), ("ok", f"<{key}>"), f"the answer to ('get', {key!r})")
        expect(_pending(pid, "five answered lookups"), {}, "pending after every caller was answered")


@LOOKUP.check("a lookup that crashes is answered ('error', reason), and the server lives on",
              hint="async_nolink, not Task.async_: the crash arrives as ('DOWN', ref, 'process', pid, "
                   "reason); reply ('error', reason) to that ref's caller")
def _crash(ns):
    with gs.testing.FakeClock():
        pid = _lookup_server(ns)
        got = _call(pid, ("get", "bad"), "does handle_info reply ('error', reason) on the task's DOWN?")
        if not (type(got) is tuple and len(got) == 2 and got[0] == "error"
                and isinstance(got[1], LookupError)):
            raise AssertionError(f"the reply to ('get', 'bad') was {got!r}; expected ('error', reason) "
                                 f"with the task's exit reason, LookupError(\"no entry for 'bad'\")")
        expect(call(pid, ("get", "ada")), ("ok", "<ada>"), "the reply to ('get', 'ada') after the crash")


@LOOKUP.check("a lookup past the deadline is answered ('error', 'timeout') and its task is stopped",
              hint="start gs.send_after(gs.self(), ('deadline', task.ref), state['deadline']) with the "
                   "task; when it arrives first: gs.Task.shutdown(task, 'brutal_kill'), reply "
                   "('error', 'timeout')")
def _deadline(ns):
    with gs.testing.FakeClock() as clock:
        pid = _lookup_server(ns)
        _ask(pid, ("get", "slow"))
        task = _started("slow")
        ref = gs.monitor(task)
        state(pid)                  # barrier: handle_call has returned, so its timer runs from time 0
        clock.advance(_DEADLINE - 1.0)
        state(pid)                                   # barrier: whatever was due has been handled
        try:
            early = gs.receive(lambda m: type(m) is tuple and m[:2] == ("answer", ("get", "slow")),
                               timeout=0)
        except gs.ReceiveTimeout:
            pass
        else:
            raise AssertionError(f"the caller got {early[2]!r} {_DEADLINE - 1.0:g} s into a "
                                 f"{_DEADLINE:g} s deadline")
        clock.advance(1.0)
        expect(_answer(("get", "slow")), ("error", "timeout"),
               f"the answer to ('get', 'slow') when its {_DEADLINE:g} s deadline passed")
        _next("DOWN", ref, "the task still runs after its deadline: stop it with "
                           "gs.Task.shutdown(task, 'brutal_kill')", _SOON)


@LOOKUP.check("a finished lookup leaves nothing behind; a late deadline or a stray message does no harm",
              hint="on a result: gs.demonitor(ref, flush=True) and gs.cancel_timer(timer), then drop the "
                   "entry; match only refs still pending; end handle_info with a catch-all "
                   "(super().handle_info)")
def _nothing_left(ns):
    with gs.testing.FakeClock() as clock:
        pid = _lookup_server(ns)
        expect(call(pid, ("get", "ada")), ("ok", "<ada>"), "the reply to ('get', 'ada')")
        ref = gs.monitor(_started("ada"))
        _next("DOWN", ref, "the task that looked up 'ada' did not end")
        expect(_pending(pid, "a lookup answered and its task ended"), {}, "pending after the answer")
        clock.advance(2 * _DEADLINE)
        expect(_pending(pid, "its deadline passed"), {}, "pending after the deadline passed")
        gs.send(pid, "hello?")
        expect(_pending(pid, "a stray message 'hello?'"), {}, "pending after a stray message")
        expect(call(pid, ("get", "bob")), ("ok", "<bob>"), "the reply to ('get', 'bob') after all that")


# -- 05.3 · A batch processor ---------------------------------------------------------------------

BATCH = Exercise("05.3", "A batch processor", notebook="05_calls_casts_info", stars=3, minutes=30,
                 names=["BatchProcessor"])


def _batcher(ns, size: int, timeout: float):
    return start(ns["BatchProcessor"], {"sink": gs.self(), "size": size, "timeout": timeout})


def _drain() -> list:
    """The batches in the check's mailbox, as (why, items), without waiting."""
    got = []
    while True:
        try:
            m = gs.receive(lambda m: type(m) is tuple and len(m) == 3 and m[0] == "batch", timeout=0)
        except gs.ReceiveTimeout:
            return got
        got.append((m[1], tuple(m[2]) if isinstance(m[2], (list, tuple)) else m[2]))


def _flushed(pid) -> list:
    """The batches flushed so far: a barrier (gs.sys.get_state), then the check's mailbox."""
    state(pid)
    return _drain()


def _add(pid, *items) -> None:
    for item in items:
        cast(pid, ("add_item", item))


@BATCH.check("a full batch is flushed at once, by size",
             hint="when the batch reaches state.size items, process_batch(sink, 'size', batch) at once "
                  "and start an empty batch")
def _by_size(ns):
    with gs.testing.FakeClock():
        pid = _batcher(ns, size=2, timeout=1.0)
        _add(pid, 1, 2, 3, 4, 5)
        expect(_flushed(pid), [("size", (1, 2)), ("size", (3, 4))],
               "batches after adding 1 to 5 with size 2 (5 still waits)")


@BATCH.check("a partial batch is flushed by time, timeout seconds after its first item",
             hint="the first item of a batch starts one timer, gs.send_after(gs.self(), "
                  "('batch_timeout', tag), state.timeout); later items do not restart it")
def _by_time(ns):
    with gs.testing.FakeClock() as clock:
        pid = _batcher(ns, size=3, timeout=2.0)
        _add(pid, "a")
        state(pid)
        clock.advance(1.0)
        _add(pid, "b")
        clock.advance(0.5)
        expect(_flushed(pid), [], "batches 1.5 s after 'a' (timeout 2 s)")
        clock.advance(0.5)
        expect(_flushed(pid), [("time", ("a", "b"))], "batches 2 s after 'a', with 'b' added at 1 s")


@BATCH.check("after a flush by time, the next item starts a new timer",
             hint="a flush empties the batch and forgets its timer (timer=None, tag=None), so the next "
                  "item starts a fresh one")
def _timer_again(ns):
    with gs.testing.FakeClock() as clock:
        pid = _batcher(ns, size=3, timeout=2.0)
        _add(pid, "a")
        state(pid)
        clock.advance(2.0)
        expect(_flushed(pid), [("time", ("a",))], "batches 2 s after 'a'")
        _add(pid, "b")
        state(pid)
        clock.advance(1.0)
        expect(_flushed(pid), [], "batches 1 s after 'b'")
        clock.advance(1.0)
        expect(_flushed(pid), [("time", ("b",))], "batches 2 s after 'b'")


@BATCH.check("a stale timer does not flush the next batch early",
             hint="tag each timer's message with a fresh gs.make_ref(), keep the tag in the state, and "
                  "ignore a ('batch_timeout', tag) whose tag is not the current one")
def _stale_timer(ns):
    with gs.testing.FakeClock() as clock:
        pid = _batcher(ns, size=3, timeout=1.0)
        _add(pid, "a", "b")
        state(pid)
        gs.sys.suspend(pid, timeout=_WAIT)      # busy, as in the notebook...
        _add(pid, "c", "d")
        clock.advance(1.0)                      # ...when the timer fires: its message waits behind c, d
        gs.sys.resume(pid, timeout=_WAIT)
        expect(_flushed(pid), [("size", ("a", "b", "c"))],
               "batches at 1 s: 'c' filled the batch, then the timer set for 'a' arrived, after 'd'")
        clock.advance(0.5)
        expect(_flushed(pid), [], "batches at 1.5 s ('d' was handled at 1 s; timeout 1 s)")
        clock.advance(0.5)
        expect(_flushed(pid), [("time", ("d",))], "batches at 2 s")


def _supervised(cls, opts):
    """A Supervisor with one child, ``cls`` started with ``opts``; a failed start says why."""
    try:
        return gs.Supervisor.start_link([(cls, opts)])
    except gs.StartError as e:
        r = e.reason
        cause = r[2] if type(r) is tuple and len(r) == 3 and isinstance(r[2], BaseException) else None
        why = reason_text(cause) if cause is not None else repr(r)
        raise AssertionError(f"the supervisor could not start {cls.__name__}: {why}") from cause


@BATCH.check("items still waiting when a supervisor stops the server are flushed; no empty batch",
             hint="gs.trap_exit(True) in init, so the supervisor's shutdown runs terminate; terminate "
                  "flushes with why 'shutdown' only if the batch has items")
def _shutdown(ns):
    with gs.testing.FakeClock():
        opts = {"sink": gs.self(), "size": 3, "timeout": 1.0}
        for items, expected in (((1, 2), [("shutdown", (1, 2))]), ((), [])):
            sup = _supervised(ns["BatchProcessor"], opts)
            pid = gs.Supervisor.which_children(sup)[0][1]
            _add(pid, *items)
            state(pid)
            gs.stop(sup, timeout=_WAIT)         # returns once the supervisor (and so the child) is gone
            expect(_drain(), expected, f"batches when the supervisor stopped a server holding {items!r}")

