"""Exercises of notebook 03, the GenServer template (``solutions/03_genserver_template.ipynb``).

03.1 · A Stack server: Elixir's classic first GenServer (``push`` a cast,
``pop`` and ``size`` calls), with the edge case a first version misses (pop
on an empty stack) and the template's rule: the state lives in the process,
passed in and returned, never on ``self``.

03.2 · A heartbeat: periodic work with ``send_after``, the first timer set in
``handle_continue`` (not ``init``), each beat scheduling exactly one next
beat, and a clean stop; every check drives time with
``gs.testing.FakeClock``, so a 5-second period costs nothing.
"""

from __future__ import annotations

import genserver_lite as gs

from ..core import Exercise
from ..probes import alive, call, cast, expect, start, state

__all__ = ["STACK", "HEARTBEAT"]

STACK = Exercise("03.1", "A Stack server", notebook="03_genserver_template", stars=1, minutes=10,
                 names=["Stack"])


@STACK.check("start_link(items) keeps the items, the first one on top",
             hint="init(self, items) returns ('ok', list(items)); 'size' replies len(state)")
def _initial_items(ns):
    pid = start(ns["Stack"], ["a", "b"])
    expect(call(pid, "size"), 2, "size of Stack(['a', 'b'])")
    expect(call(pid, "pop"), "a", "first pop of Stack(['a', 'b'])")
    expect(call(pid, "pop"), "b", "second pop of Stack(['a', 'b'])")


@STACK.check("pop replies the last item pushed",
             hint="handle_cast(('push', item)) puts the item on top: ('noreply', [item, *state]); "
                  "'pop' replies with the head and keeps the rest")
def _last_in_first_out(ns):
    pid = start(ns["Stack"], [1])
    cast(pid, ("push", 2))
    cast(pid, ("push", 3))
    got = [call(pid, "pop") for _ in range(3)]
    expect(got, [3, 2, 1], "three pops after Stack([1]), push(2), push(3)")


@STACK.check("pop on an empty stack replies None and keeps the server alive",
             hint="add a case for the empty list that replies None and keeps the state: "
                  "('reply', None, [])")
def _pop_empty(ns):
    pid = start(ns["Stack"], [])
    expect(call(pid, "pop"), None, "pop of an empty stack")
    assert alive(pid), "the server died after pop on an empty stack"
    cast(pid, ("push", "x"))
    expect(call(pid, "pop"), "x", "pop after pushing 'x' onto the emptied stack")


@STACK.check("size follows pushes and pops, and does not change the stack",
             hint="'size' replies len(state) and returns the state unchanged")
def _size(ns):
    pid = start(ns["Stack"], [])
    expect(call(pid, "size"), 0, "size of an empty stack")
    for item in ("a", "b", "c"):
        cast(pid, ("push", item))
    expect(call(pid, "size"), 3, "size after three pushes")
    expect(call(pid, "size"), 3, "size asked twice in a row")
    expect(call(pid, "pop"), "c", "pop after size")
    expect(call(pid, "size"), 2, "size after a pop")


@STACK.check("the state is the list of items, top first (nothing kept on self)",
             hint="state is passed in and returned, never stored on self: init returns "
                  "('ok', list(items)) and each callback returns the new list")
def _state_is_the_list(ns):
    pid = start(ns["Stack"], ["b"])
    cast(pid, ("push", "a"))
    expect(state(pid), ["a", "b"], "gs.sys.get_state(pid) after Stack(['b']), push('a')")
    expect(call(pid, "pop"), "a", "pop")
    expect(state(pid), ["b"], "gs.sys.get_state(pid) after the pop")


# -- 03.2 · A heartbeat ---------------------------------------------------------------------

HEARTBEAT = Exercise("03.2", "A heartbeat", notebook="03_genserver_template", stars=2, minutes=15,
                     names=["Heartbeat"])

_PERIOD = 5.0      # seconds between beats in the checks (a fake clock: no real waiting)


def _beats(pid):
    """The server's answer to 'beats'.

    A call is also a barrier: it is answered after ``handle_continue`` (which runs
    before any message) and after every beat the clock delivered before it.
    """
    return call(pid, "beats")


@HEARTBEAT.check("start_link(period) returns with 0 beats; the first beat comes one period later",
                 hint="init returns ('ok', {'period': period, 'beats': 0}, ('continue', 'schedule')); "
                      "'beats' replies the count")
def _first_beat(ns):
    with gs.testing.FakeClock() as clock:
        pid = start(ns["Heartbeat"], _PERIOD)
        expect(_beats(pid), 0, "beats right after start_link")
        clock.advance(_PERIOD - 1.0)
        expect(_beats(pid), 0, f"beats {_PERIOD - 1.0:g} s after start_link (period {_PERIOD:g} s)")
        clock.advance(1.0)
        expect(_beats(pid), 1, f"beats {_PERIOD:g} s after start_link (period {_PERIOD:g} s)")


@HEARTBEAT.check("init only asks for a continue; handle_continue schedules the first beat",
                 hint="init starts no timer: it returns ('ok', state, ('continue', 'schedule')), and "
                      "handle_continue calls gs.send_after(gs.self(), 'beat', period)")
def _continue_schedules(ns):
    # The callbacks called directly, from this check's process (as an ExUnit test may call
    # MyServer.init/1): a timer they start sends its "beat" here, and the fake clock counts it.
    hb = ns["Heartbeat"]()
    with gs.testing.FakeClock() as clock:
        r = hb.init(_PERIOD)
        ok = type(r) is tuple and len(r) == 3 and r[0] == "ok"
        if not (ok and type(r[2]) is tuple and len(r[2]) == 2 and r[2][0] == "continue"):
            raise AssertionError(f"init({_PERIOD:g}) returned {r!r}, expected ('ok', state, "
                                 f"('continue', ...))")
        fired = clock.advance(_PERIOD)
        if fired:
            raise AssertionError(f"init started a timer ({fired} fired one period later): the first "
                                 f"beat belongs in handle_continue")
        r2 = hb.handle_continue(r[2][1], r[1])
        if not (type(r2) is tuple and len(r2) in (2, 3) and r2[0] == "noreply"):
            raise AssertionError(f"handle_continue returned {r2!r}, expected ('noreply', state)")
        expect(clock.advance(_PERIOD), 1, "timers that fired one period after handle_continue")
        try:
            gs.receive(lambda m: m == "beat", timeout=0)
        except gs.ReceiveTimeout:
            raise AssertionError("handle_continue's timer did not send 'beat' to the server "
                                 "(gs.send_after(gs.self(), 'beat', period))") from None


@HEARTBEAT.check("one beat per period: three periods, three beats",
                 hint="each 'beat' adds 1 and schedules exactly one next beat, period seconds later")
def _one_per_period(ns):
    with gs.testing.FakeClock() as clock:
        pid = start(ns["Heartbeat"], _PERIOD)
        _beats(pid)                         # barrier: handle_continue has run, at time 0
        counts = []
        for _ in range(3):
            clock.advance(_PERIOD)          # one period at a time: a beat reschedules from "now"
            counts.append(_beats(pid))
        expect(counts, [1, 2, 3], "beats after each of three periods")


@HEARTBEAT.check("the period comes from start_link's argument",
                 hint="keep the period in the state and use it for every send_after; no constant")
def _period_from_arg(ns):
    with gs.testing.FakeClock() as clock:
        fast = start(ns["Heartbeat"], 2.0)
        slow = start(ns["Heartbeat"], 3.0)
        _beats(fast), _beats(slow)          # barriers: both handle_continue have run, at time 0
        for _ in range(6):
            clock.advance(1.0)
            call(fast, "beats")           # barriers: each server handled what was due
            call(slow, "beats")
        expect((_beats(fast), _beats(slow)), (3, 2),
               "beats after 6 s of Heartbeat(2.0) and Heartbeat(3.0)")


@HEARTBEAT.check("'stop' replies 'ok' and stops the server with reason 'normal'",
                 hint="return ('stop', 'normal', 'ok', state) from handle_call: reply, then stop")
def _stops_cleanly(ns):
    with gs.testing.FakeClock() as clock:
        pid = start(ns["Heartbeat"], _PERIOD)
        ref = gs.monitor(pid)
        _beats(pid)
        clock.advance(_PERIOD)
        expect(call(pid, "stop"), "ok", "the reply to 'stop'")
        try:
            down = gs.receive(lambda m: type(m) is tuple and len(m) == 5 and m[:2] == ("DOWN", ref),
                              timeout=1.0)
        except gs.ReceiveTimeout:
            raise AssertionError("the server still runs 1 s after replying to 'stop'") from None
        expect(down[4], "normal", "the server's exit reason")
