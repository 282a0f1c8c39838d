"""Timers: send_after, cancel_timer, read_timer on one thread, and the FakeClock that drives them.

Behaviours from Elixir's ``process_test.exs`` (send_after, read/cancel return
the time left or false) and ``erlang:send_after/3`` (a name is resolved when
the timer fires).
"""

import threading

import pytest

import genserver_lite as gs
from genserver_lite import timer as timer_mod
from genserver_lite.testing import FakeClock, assert_receive
from support import LONG


def timer_threads():
    return [t for t in threading.enumerate() if t.name == "gs timers" and t.is_alive()]


class Via:
    def __init__(self):
        self.table = {}

    def register_name(self, key, pid):
        self.table[key] = pid
        return True

    def unregister_name(self, key):
        self.table.pop(key, None)

    def whereis_name(self, key):
        return self.table.get(key)

    def send(self, key, msg):
        gs.send(self.table[key], msg)


# -- delivery ------------------------------------------------------------------------------

def test_send_after_to_a_pid_on_the_fake_clock():
    with FakeClock() as clock:
        ref = gs.send_after(gs.self(), "hello", 5)
        assert isinstance(ref, gs.TimerRef)
        assert clock.advance(4.5) == 0
        assert gs.flush() == []
        assert clock.advance(0.5) == 1
        assert gs.receive(timeout=0) == "hello"       # delivered synchronously by advance


def test_send_after_to_a_pid_on_the_real_clock():
    gs.send_after(gs.self(), "tick", 0.01)
    assert_receive("tick", LONG)


def test_send_after_zero_delivers_promptly():
    gs.send_after(gs.self(), "now", 0)
    assert_receive("now", LONG)


def test_real_clock_timers_fire_in_due_order():
    me = gs.self()
    gs.send_after(me, "late", 0.3)
    gs.send_after(me, "early", 0.01)
    assert gs.receive(timeout=LONG) == "early"
    assert gs.receive(timeout=LONG) == "late"


def test_fake_clock_timers_fire_in_due_order_and_ties_in_creation_order():
    me = gs.self()
    with FakeClock() as clock:
        gs.send_after(me, "b", 2)
        gs.send_after(me, "a", 1)
        gs.send_after(me, "c", 2)
        gs.send_after(me, "later", 10)
        assert clock.advance(5) == 3
        assert gs.flush() == ["a", "b", "c"]
        assert clock.advance(5) == 1
        assert gs.flush() == ["later"]


def test_send_after_to_a_registered_name(uname):
    name = uname()
    gs.register(name, gs.self())
    with FakeClock() as clock:
        gs.send_after(name, "by name", 1)
        clock.advance(1)
    assert gs.receive(timeout=0) == "by name"


def test_the_name_is_resolved_when_the_timer_fires(uname):
    name = uname()
    me = gs.self()
    first = gs.spawn(lambda: gs.receive(lambda m: m == "never"))
    gs.register(name, first)
    with FakeClock() as clock:
        gs.send_after(name, "for whoever holds the name", 5)
        clock.advance(2)
        gs.unregister(name)
        gs.register(name, me)
        clock.advance(3)
    assert gs.receive(timeout=0) == "for whoever holds the name"
    assert gs.info(first)["message_queue_len"] == 0


def test_a_timer_to_a_name_nobody_holds_at_fire_time_is_dropped(uname):
    name = uname()
    with FakeClock() as clock:
        gs.send_after(name, "lost", 1)                 # no error at set time either
        assert clock.advance(1) == 1
    assert gs.flush() == []


def test_send_after_to_a_via_name():
    via = Via()
    via.register_name("k", gs.self())
    with FakeClock() as clock:
        gs.send_after(("via", via, "k"), "via timer", 1)
        clock.advance(1)
    assert gs.receive(timeout=0) == "via timer"


def test_a_timer_to_a_dead_pid_is_dropped():
    pid, ref = gs.spawn_monitor(lambda: None)
    assert_receive(("DOWN", ref, "process", pid, "normal"), LONG)
    with FakeClock() as clock:
        gs.send_after(pid, "nobody home", 1)
        assert clock.advance(1) == 1                  # fired, and dropped without error


def test_a_timer_outlives_the_process_that_set_it():
    me = gs.self()
    with FakeClock() as clock:
        pid, ref = gs.spawn_monitor(lambda: gs.send_after(me, "from the dead", 3))
        assert_receive(("DOWN", ref, "process", pid, "normal"), LONG)
        clock.advance(3)
    assert gs.receive(timeout=0) == "from the dead"


def test_a_process_can_set_timers_to_itself():
    me = gs.self()

    def ticker():
        gs.send_after(gs.self(), "tick", 0.01)
        gs.send(me, ("got", gs.receive(timeout=LONG)))
    gs.spawn(ticker)
    assert_receive(("got", "tick"), LONG)


# -- cancel_timer, read_timer --------------------------------------------------------------

def test_cancel_timer_returns_the_seconds_left_then_false():
    with FakeClock() as clock:
        ref = gs.send_after(gs.self(), "never", 10)
        clock.advance(3)
        assert gs.cancel_timer(ref) == pytest.approx(7.0)
        assert gs.cancel_timer(ref) is False
        assert clock.advance(100) == 0
    assert gs.flush() == []


def test_cancel_timer_after_it_fired_is_false():
    with FakeClock() as clock:
        ref = gs.send_after(gs.self(), "m", 1)
        clock.advance(1)
        assert gs.cancel_timer(ref) is False
        assert gs.read_timer(ref) is False
    assert gs.flush() == ["m"]


def test_read_timer_returns_the_seconds_left():
    with FakeClock() as clock:
        ref = gs.send_after(gs.self(), "m", 10)
        assert gs.read_timer(ref) == pytest.approx(10.0)
        clock.advance(4)
        assert gs.read_timer(ref) == pytest.approx(6.0)
        gs.cancel_timer(ref)
        assert gs.read_timer(ref) is False


def test_cancel_and_read_on_the_real_clock():
    ref = gs.send_after(gs.self(), "m", 60)
    left = gs.read_timer(ref)
    assert 0 < left <= 60
    cancelled = gs.cancel_timer(ref)
    assert 0 < cancelled <= left
    assert gs.read_timer(ref) is False


def test_a_timer_can_be_cancelled_from_another_process():
    with FakeClock() as clock:
        ref = gs.send_after(gs.self(), "m", 5)
        me = gs.self()
        gs.spawn(lambda: gs.send(me, ("cancelled", gs.cancel_timer(ref))))
        assert assert_receive(("cancelled", ...), LONG)[1] == pytest.approx(5.0)
        assert clock.advance(5) == 0


# -- the one timer thread ---------------------------------------------------------------------

def test_one_timer_thread_no_matter_how_many_timers():
    me = gs.self()
    assert timer_threads() == []
    refs = [gs.send_after(me, i, 60 + i) for i in range(200)]
    pids = [gs.spawn(lambda: gs.send_after(gs.self(), "x", 60)) for _ in range(10)]
    assert len(timer_threads()) == 1
    for r in refs:
        gs.cancel_timer(r)
    gs.send_after(me, "soon", 0.01)
    assert_receive("soon", LONG)
    assert len(timer_threads()) == 1
    del pids


def test_fake_clock_starts_no_timer_thread():
    with FakeClock() as clock:
        for i in range(10):
            gs.send_after(gs.self(), i, i)
        assert timer_threads() == []
        clock.advance(10)
    assert gs.flush() == list(range(10))


def test_reset_stops_the_timer_thread_and_cancels_timers():
    ref = gs.send_after(gs.self(), "pending", 60)
    assert len(timer_threads()) == 1
    gs.reset()
    assert timer_threads() == []
    assert gs.read_timer(ref) is False
    gs.send_after(gs.self(), "after reset", 0)     # the thread comes back on demand
    assert_receive("after reset", LONG)


def test_leaving_a_fake_clock_cancels_its_timers_and_restores_the_real_clock():
    with FakeClock():
        ref = gs.send_after(gs.self(), "never", 5)
    assert gs.read_timer(ref) is False
    assert timer_mod._clock.fake is False
    gs.send_after(gs.self(), "real", 0)
    assert_receive("real", LONG)


def test_timer_ref_repr():
    with FakeClock():
        ref = gs.send_after(gs.self(), "m", 1)
        assert repr(ref).startswith("#TimerRef<")
