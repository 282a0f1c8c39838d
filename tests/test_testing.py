"""gs.testing: assert_receive, refute_receive, matches, wait_until, FakeClock, crash, fake_clock fixture.

ExUnit's ``assert_receive``/``refute_receive`` semantics: the pattern selects a
message, others stay queued in order; a failure lists the mailbox.
"""

import threading
import time

import pytest

import genserver_lite as gs
from genserver_lite import timer as timer_mod
from genserver_lite.testing import (FakeClock, assert_receive, matches, refute_receive,
                                    wait_until)
from support import LONG


# -- matches ---------------------------------------------------------------------------------

def test_matches_values_wildcards_predicates_and_nesting():
    pid = gs.self()
    ref = gs.make_ref()
    assert matches("x", "x") and not matches("x", "y")
    assert matches(..., object())
    assert matches(("DOWN", ..., "process", pid, ...), ("DOWN", ref, "process", pid, "normal"))
    assert matches(("DOWN", ..., "process", pid, ...), ("DOWN", ref, "process", pid))   # a trailing ... is the rest
    assert matches(("DOWN", ref, ...), ("DOWN", ref, "process", pid, "normal"))
    assert not matches(("DOWN", ref, ...), ("DOWN",))                             # ...but the head must be there
    assert not matches(("DOWN", ..., "process"), ("DOWN", ref, ref, "process"))   # elsewhere ... is one element
    assert not matches(("EXIT", ...), ("DOWN", ref, "process", pid, "normal"))
    assert not matches(("a", ...), ["a", 1])                    # a tuple pattern needs a tuple
    assert matches(["a", ...], ["a", 1])
    assert matches(lambda m: m > 3, 4) and not matches(lambda m: m > 3, 2)
    assert matches(("n", lambda n: n % 2 == 0), ("n", 10))
    assert not matches(("n", lambda n: n % 2 == 0), ("n", 11))
    assert matches({"k": 1}, {"k": 1})
    assert matches(int, int) and not matches(int, 3)            # a class is a value, not a predicate


def test_matches_treats_a_raising_eq_as_no_match():
    class Weird:
        def __eq__(self, other):
            raise RuntimeError("no comparing")
    assert matches(Weird(), 1) is False


# -- assert_receive ------------------------------------------------------------------------------

def test_assert_receive_returns_the_message_and_keeps_the_others_in_order():
    me = gs.self()
    for m in ["a", ("want", 1), "b", ("want", 2)]:
        gs.send(me, m)
    assert assert_receive(("want", ...)) == ("want", 1)
    assert gs.flush() == ["a", "b", ("want", 2)]


def test_assert_receive_with_a_predicate():
    gs.send(gs.self(), 5)
    gs.send(gs.self(), 12)
    assert assert_receive(lambda m: m > 10) == 12
    assert gs.flush() == [5]


def test_assert_receive_without_a_pattern_takes_the_oldest():
    gs.send(gs.self(), "first")
    gs.send(gs.self(), "second")
    assert assert_receive() == "first"


def test_assert_receive_waits_for_a_message_from_another_process():
    me = gs.self()
    gs.spawn(lambda: gs.send(me, ("later", 1)))
    assert assert_receive(("later", ...), LONG) == ("later", 1)


def test_assert_receive_failure_lists_the_mailbox():
    me = gs.self()
    gs.send(me, ("other", 1))
    gs.send(me, "noise")
    with pytest.raises(AssertionError) as info:
        assert_receive(("wanted", ...), 0.01)
    text = str(info.value)
    assert "('wanted', Ellipsis)" in text
    assert "2 message(s)" in text
    assert "('other', 1)" in text and "'noise'" in text
    assert gs.flush() == [("other", 1), "noise"]          # nothing lost by the failure


def test_assert_receive_failure_with_an_empty_mailbox():
    with pytest.raises(AssertionError, match="0 message"):
        assert_receive("x", 0)


# -- refute_receive ----------------------------------------------------------------------------------

def test_refute_receive_passes_when_nothing_matches_and_keeps_the_rest():
    gs.send(gs.self(), "unrelated")
    assert refute_receive("forbidden", 0.01) is None
    assert gs.flush() == ["unrelated"]


def test_refute_receive_fails_naming_the_message():
    gs.send(gs.self(), ("forbidden", 42))
    with pytest.raises(AssertionError, match=r"unexpectedly received \('forbidden', 42\)"):
        refute_receive(("forbidden", ...), 0.01)


def test_refute_receive_sees_a_message_that_arrives_during_the_wait():
    me = gs.self()

    def late():
        gs.receive()
        gs.send(me, "arrives")
    pid = gs.spawn(late)
    gs.send(pid, "go")
    with pytest.raises(AssertionError):
        refute_receive("arrives", LONG)


# -- wait_until ---------------------------------------------------------------------------------------

def test_wait_until_returns_the_first_truthy_value():
    calls = []

    def cond():
        calls.append(1)
        return len(calls) >= 3 and "ready"
    assert wait_until(cond, LONG) == "ready"
    assert len(calls) == 3


def test_wait_until_sees_a_change_made_by_another_process():
    box = []
    gs.spawn(lambda: box.append("done"))
    assert wait_until(lambda: box, LONG) == ["done"]


def test_wait_until_failure_names_the_condition_and_its_last_value():
    def never_true():
        return 0
    t0 = time.monotonic()
    with pytest.raises(AssertionError, match=r"never_true.*0\.05 s.*last value 0"):
        wait_until(never_true, 0.05)
    assert time.monotonic() - t0 >= 0.05


# -- FakeClock -------------------------------------------------------------------------------------------

def test_fake_clock_moves_only_when_advanced():
    with FakeClock(start=100.0) as clock:
        assert clock.now() == 100.0
        assert clock.advance(2.5) == 0
        assert clock.now() == 102.5


def test_fake_clock_advance_fires_due_timers_in_the_callers_thread():
    me = gs.self()
    with FakeClock() as clock:
        gs.send_after(me, "t1", 1)
        gs.send_after(me, "t3", 3)
        assert clock.advance(2) == 1
        assert gs.flush() == ["t1"]
        assert clock.advance(1) == 1
        assert gs.flush() == ["t3"]
        assert [t for t in threading.enumerate() if t.name == "gs timers"] == []


def test_fake_clock_drives_a_periodic_genserver():
    class Ticker(gs.GenServer):
        def init(self, _):
            gs.send_after(gs.self(), "tick", 30)
            return ("ok", 0)

        def handle_info(self, msg, n):
            gs.send_after(gs.self(), "tick", 30)
            return ("noreply", n + 1)
    with FakeClock() as clock:
        pid = Ticker.start()
        for expected in range(1, 4):
            assert clock.advance(30) == 1
            assert gs.sys.get_state(pid) == expected


def test_fake_clock_cannot_be_installed_while_timers_are_pending():
    ref = gs.send_after(gs.self(), "real", 60)
    with pytest.raises(RuntimeError, match="timers are pending"):
        FakeClock().__enter__()
    assert gs.cancel_timer(ref) is not False
    assert timer_mod._clock.fake is False


def test_leaving_the_fake_clock_restores_the_real_one():
    with FakeClock():
        assert timer_mod._clock.fake is True
    assert timer_mod._clock.fake is False
    gs.send_after(gs.self(), "real again", 0)
    assert_receive("real again", LONG)


def test_the_fake_clock_fixture(fake_clock):
    assert timer_mod._clock is fake_clock
    gs.send_after(gs.self(), "fixture", 10)
    assert fake_clock.advance(10) == 1
    assert gs.receive(timeout=0) == "fixture"


# -- crash -------------------------------------------------------------------------------------------------

def test_crash_makes_a_server_crash_inside_its_loop():
    me = gs.self()

    class Victim(gs.GenServer):
        def init(self, _):
            return ("ok", "s")

        def terminate(self, reason, state):
            gs.send(me, ("terminate", reason, state))
    pid = Victim.start()
    ref = gs.monitor(pid)
    gs.testing.crash(pid, "injected")
    assert_receive(("terminate", "injected", "s"), LONG)
    assert_receive(("DOWN", ref, "process", pid, "injected"), LONG)


def test_crash_with_an_exception_exits_with_that_exception():
    class Victim(gs.GenServer):
        def init(self, _):
            return ("ok", None)
    pid = Victim.start()
    ref = gs.monitor(pid)
    err = ValueError("boom")
    gs.testing.crash(pid, err)
    assert assert_receive(("DOWN", ref, "process", pid, ...), LONG)[4] is err
