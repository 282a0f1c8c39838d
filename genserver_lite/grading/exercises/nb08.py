"""Exercises of notebook 08, error handling (``solutions/08_error_handling.ipynb``).

08.1 · A circuit breaker that sends its own half-open probe: callers ask
the breaker for permission and report their outcome; after ``threshold``
failures in a row it opens; when its cool-down timer fires it goes half-open
and runs a ``probe`` function in another process, then closes or opens again
on the probe's outcome. The checks' probe reports to the check and waits for
its verdict, so "the breaker answers while the probe runs" is checked for real.

08.2 · Retry with backoff outside the server: a ``Fetcher`` that retries a
failing ``fetch`` in a task, waiting on ``send_after`` timers that grow (half
to all of ``min(cap, base * 2**(n-1))``), answers ``ping`` throughout, and
answers its caller even when ``fetch`` raises. The waits are measured under a
``FakeClock`` with ``gs.course.run_timers``, which fires each timer as soon as
it is set: a loop that sleeps instead sets no timer and fails at once.
"""

from __future__ import annotations

import genserver_lite as gs
from genserver_lite.course import FlakyService, pending_timers, run_timers

from ..core import Exercise
from ..probes import alive, call, cast, expect, start

__all__ = ["BREAKER", "FETCHER"]

_WAIT = 1.0      # seconds a check waits for something the learner's code should do at once


def _next(pattern, missing: str, timeout: float = _WAIT):
    """The next message matching ``pattern`` (gs.testing.matches); fails with ``missing`` if none comes."""
    try:
        return gs.testing.assert_receive(pattern, timeout)
    except AssertionError:
        raise AssertionError(missing) from None


# -- 08.1 · A circuit breaker that sends its own half-open probe ---------------------------------

BREAKER = Exercise("08.1", "A circuit breaker that sends its own half-open probe",
                   notebook="08_error_handling", stars=2, minutes=25, names=["Breaker"])

_THRESHOLD = 3
_COOLDOWN = 10.0


def _probe_for(check):
    """A probe that tells the check it runs, then waits for the check's verdict ("ok" or "fail")."""
    def probe():
        gs.send(check, ("probing", gs.self()))
        verdict = gs.receive(lambda m: type(m) is tuple and m[:1] == ("verdict",))[1]
        if verdict != "ok":
            raise ConnectionError("the dependency is still down")
        return "healthy"
    return probe


def _breaker(ns):
    return start(ns["Breaker"], {"threshold": _THRESHOLD, "cooldown": _COOLDOWN,
                                 "probe": _probe_for(gs.self())})


def _status(b) -> str:
    return call(b, "status")


def _open(b):
    """Three failed calls in a row; returns once the breaker says it is open."""
    for _ in range(_THRESHOLD):
        expect(call(b, "ask"), "go", "ask while closed")
        cast(b, ("result", False))
    expect(_status(b), "open", f"status after {_THRESHOLD} failures in a row (threshold {_THRESHOLD})")


def _half_open(b, clock):
    """Open the breaker, let the cool-down pass, and return the probe's pid once it runs."""
    _open(b)
    clock.advance(_COOLDOWN)
    try:
        status = gs.call(b, "status", timeout=_WAIT / 2)    # a barrier: the timer's message is handled
    except gs.CallTimeout:
        status = None
    except gs.Exit as e:
        raise AssertionError(f"the breaker died when the cool-down ended: {e.reason!r}") from None
    try:
        got = gs.receive(lambda m: gs.testing.matches(("probing", ...), m),
                         timeout=_WAIT / 2 if status in (None, "half_open") else 0)
    except gs.ReceiveTimeout:
        got = None
    if got is not None and got[1] == b:
        raise AssertionError("the probe runs inside the breaker's own process: it blocks the breaker")
    if status is None:
        raise AssertionError(f"the breaker did not answer 'status' within {_WAIT / 2:g} s after the "
                             f"cool-down: is a callback blocked?")
    if got is None:
        raise AssertionError(f"no probe ran after the {_COOLDOWN:g} s cool-down (the status is {status!r}): "
                             f"the timer's message should move the breaker to half_open and start probe()")
    expect(status, "half_open", "status after the cool-down, while the probe runs")
    return got[1]


def _wait_status(b, wanted: str, after: str):
    try:
        gs.testing.wait_until(lambda: call(b, "status") == wanted, timeout=_WAIT)
    except AssertionError:
        raise AssertionError(f"status is {call(b, 'status')!r} {after}, expected {wanted!r}") from None


@BREAKER.check("while closed, callers may go, and a success resets the count of failures",
               hint="'ask' replies 'go' while closed; ('result', False) adds a failure, ('result', True) "
                    "sets the count back to 0; 'status' replies the status")
def _closed(ns):
    b = _breaker(ns)
    expect(call(b, "ask"), "go", "ask on a new breaker")
    expect(_status(b), "closed", "status of a new breaker")
    for ok in (False, False, True, False, False):
        cast(b, ("result", ok))
    expect(_status(b), "closed", f"status after fail, fail, success, fail, fail (threshold {_THRESHOLD})")
    expect(call(b, "ask"), "go", "ask after fail, fail, success, fail, fail")


@BREAKER.check("threshold failures in a row open it, and while open every caller is rejected",
               hint="at the threshold, set the status to 'open' and start gs.send_after(gs.self(), ..., "
                    "cooldown); 'ask' replies 'rejected' while open")
def _opens(ns):
    with gs.testing.FakeClock() as clock:
        b = _breaker(ns)
        _open(b)
        expect([call(b, "ask") for _ in range(3)], ["rejected"] * 3, "three asks while open")
        clock.advance(_COOLDOWN / 2)
        expect(call(b, "ask"), "rejected", "ask half-way through the cool-down")
        gs.testing.refute_receive(("probing", ...), 0.05)


@BREAKER.check("after the cool-down it goes half-open and runs the probe once, in another process",
               hint="when the cool-down timer fires: status 'half_open', and start probe() in a process of "
                    "its own (gs.spawn_monitor(probe) or TaskSupervisor.async_nolink), never inside the callback")
def _probes(ns):
    with gs.testing.FakeClock() as clock:
        b = _breaker(ns)
        _half_open(b, clock)
        expect(_status(b), "half_open", "status while the probe runs")
        gs.testing.refute_receive(("probing", ...), 0.05)


@BREAKER.check("while the probe runs, the breaker answers at once and rejects every caller",
               hint="half-open is not closed: 'ask' replies 'rejected' until the probe's outcome is known; "
                    "callers never probe")
def _rejects_while_probing(ns):
    with gs.testing.FakeClock() as clock:
        b = _breaker(ns)
        _half_open(b, clock)
        expect([call(b, "ask") for _ in range(3)], ["rejected"] * 3, "three asks while the probe runs")
        expect(_status(b), "half_open", "status while the probe runs")


@BREAKER.check("a probe that returns closes the circuit, with the failure count at 0",
               hint="monitor the probe's process: its ('DOWN', ref, 'process', pid, 'normal') means probe() "
                    "returned (or, in a task, its answer); then set status 'closed' and failures 0")
def _probe_ok(ns):
    with gs.testing.FakeClock() as clock:
        b = _breaker(ns)
        gs.send(_half_open(b, clock), ("verdict", "ok"))
        _wait_status(b, "closed", "after the probe returned")
        expect(call(b, "ask"), "go", "ask after the circuit closed")
        for _ in range(_THRESHOLD - 1):
            cast(b, ("result", False))
        expect(_status(b), "closed", f"status after {_THRESHOLD - 1} new failures (the count "
                                         f"starts again from 0)")


@BREAKER.check("a probe that raises opens the circuit again, for another full cool-down",
               hint="a probe that raises is a message, not a crash of the breaker (monitor it, do not "
                    "link); then status 'open' and a new cool-down timer, from now")
def _probe_fails(ns):
    with gs.testing.FakeClock() as clock:
        b = _breaker(ns)
        gs.send(_half_open(b, clock), ("verdict", "fail"))
        try:
            _wait_status(b, "open", "after the probe raised")
        except AssertionError:
            if not alive(b):
                raise AssertionError("the breaker died with its probe: a crash of a linked process "
                                     "(gs.spawn_link, Task.async_) kills the breaker too") from None
            raise
        expect(call(b, "ask"), "rejected", "ask after the probe failed")
        clock.advance(_COOLDOWN - 0.5)
        gs.testing.refute_receive(("probing", ...), 0.05)
        expect(_status(b), "open", f"status {_COOLDOWN - 0.5:g} s after the failed probe")
        clock.advance(0.5)
        _next(("probing", ...), f"no new probe one cool-down ({_COOLDOWN:g} s) after the failed one")


# -- 08.2 · Retry with backoff outside the server -------------------------------------------------

FETCHER = Exercise("08.2", "Retry with backoff outside the server", notebook="08_error_handling",
                   stars=2, minutes=20, names=["Fetcher"])


def _fetcher(ns, svc, attempts=4, base=1.0, cap=4.0):
    return start(ns["Fetcher"], {"fetch": svc.fetch, "attempts": attempts, "base": base, "cap": cap})


def _caller(check, server, request, timeout):
    try:
        answer = gs.call(server, request, timeout)
    except gs.Exit as e:
        answer = f"no answer ({type(e).__name__})"
    gs.send(check, ("answer", request, answer))


def _fetch(ns, script, call_timeout=2 * _WAIT, **policy):
    """Fetch 'prices' through a new Fetcher under a fake clock, firing each retry timer as it is set.

    Returns (the caller's answer, the service, the Fetcher). A loop that sleeps sets no timer: it fails here.
    """
    svc = FlakyService(script)
    with gs.testing.FakeClock() as clock:
        pid = _fetcher(ns, svc, **policy)
        c = gs.spawn(_caller, gs.self(), pid, ("fetch", "prices"), call_timeout)
        try:
            run_timers(clock, lambda: not gs.alive(c), timeout=_WAIT)
        except AssertionError:
            raise AssertionError(f"after {len(svc.attempts)} attempt(s) no retry timer was set and no "
                                 f"answer came within {_WAIT:g} s: wait with gs.send_after, not gs.sleep") from None
        return _next(("answer", ...), "the caller did not report")[2], svc, pid


@FETCHER.check("a fetch that succeeds at once replies ('ok', data) after one attempt",
               hint="handle_call(('fetch', key)) starts the work in a task and returns ('noreply', state); "
                    "the task's result is the reply")
def _at_once(ns):
    answer, svc, _ = _fetch(ns, ".")
    expect(answer, ("ok", "prices: fresh"), "the answer to ('fetch', 'prices')")
    expect(len(svc.attempts), 1, "calls to fetch")


@FETCHER.check("failures are retried until the first success, whose data is the reply",
               hint="after ('error', _), wait and call fetch again; stop at the first ('ok', data)")
def _until_success(ns):
    answer, svc, _ = _fetch(ns, "xx.")
    expect(answer, ("ok", "prices: fresh"), "the answer when fetch fails twice, then succeeds")
    expect(len(svc.attempts), 3, "calls to fetch (two failures, then a success)")


@FETCHER.check("the waits grow: before retry n, half to all of min(cap, base * 2**(n-1)) seconds",
               hint="before retry n wait rng.uniform(c / 2, c) with c = min(cap, base * 2 ** (n - 1)), "
                    "with gs.send_after, never a constant")
def _backoff(ns):
    _, svc, _ = _fetch(ns, "xxxx.", attempts=5, base=1.0, cap=4.0)
    gaps = svc.gaps()
    expect(len(svc.attempts), 5, "calls to fetch (four failures, then a success)")
    for n, gap in enumerate(gaps, 1):
        ceiling = min(4.0, 1.0 * 2 ** (n - 1))
        if not ceiling / 2 - 1e-9 <= gap <= ceiling + 1e-9:
            shown = ", ".join(f"{g:.2f}" for g in gaps)
            raise AssertionError(f"the wait before retry {n} was {gap:.2f} s, expected {ceiling / 2:g} to "
                                 f"{ceiling:g} s (base 1, cap 4); all waits: {shown}")


@FETCHER.check("after `attempts` failures the reply is ('error', reason), after exactly `attempts` tries",
               hint="count the attempts: after the last one, reply the last ('error', reason) instead of waiting")
def _gives_up(ns):
    answer, svc, _ = _fetch(ns, "x", attempts=3)
    expect(answer, ("error", "unavailable"), "the answer when fetch always fails (attempts 3)")
    expect(len(svc.attempts), 3, "calls to fetch with attempts 3")


@FETCHER.check("the server answers ping while a retry waits and while an attempt runs",
               hint="retry in a task (TaskSupervisor.async_nolink), not in handle_call: the server must "
                    "return at once and stay free for other calls")
def _responsive(ns):
    svc = FlakyService("x.")
    with gs.testing.FakeClock():
        pid = _fetcher(ns, svc)
        gs.spawn(_caller, gs.self(), pid, ("fetch", "prices"), _WAIT)
        try:
            gs.testing.wait_until(lambda: svc.attempts and pending_timers(), timeout=_WAIT)
        except AssertionError:
            raise AssertionError(f"after {len(svc.attempts)} attempt(s) no retry timer was set within "
                                 f"{_WAIT:g} s: wait with gs.send_after, not gs.sleep") from None
        expect(call(pid, "ping"), "pong", "ping while a retry waits for its timer")
    hanging = FlakyService("h")
    pid = _fetcher(ns, hanging)
    gs.spawn(_caller, gs.self(), pid, ("fetch", "prices"), 5.0)
    gs.testing.wait_until(lambda: hanging.attempts, timeout=_WAIT)
    expect(call(pid, "ping"), "pong", "ping while an attempt hangs")


@FETCHER.check("a fetch that raises is answered with ('error', ...), and the server lives on",
               hint="monitor the task (TaskSupervisor.async_nolink): on its DOWN, reply ('error', reason) "
                    "to the caller; Task.start would leave the caller waiting")
def _crash_answered(ns):
    answer, _, pid = _fetch(ns, "!", call_timeout=_WAIT / 2)
    if not alive(pid):
        raise AssertionError("the Fetcher died with the task whose fetch raised: a linked task (Task.async_) "
                             "takes its owner down; start it with TaskSupervisor.async_nolink")
    if answer == "no answer (CallTimeout)":
        raise AssertionError(f"the caller got no answer within {_WAIT / 2:g} s when fetch raised: nobody "
                             f"replied for the task that crashed")
    if not (type(answer) is tuple and len(answer) == 2 and answer[0] == "error"):
        raise AssertionError(f"the answer when fetch raises: got {answer!r}, expected ('error', reason)")
    expect(call(pid, "ping"), "pong", "ping after the crash")
