"""GenServer: start, return shapes, call/cast/reply/stop, terminate, defaults, crash reports.

Behaviours ported from Elixir's ``gen_server_test.exs`` (start_link vs start,
links, call exit reasons: calling_self, timeout, noproc; stop/3; child_spec)
and OTP's ``gen_server_SUITE.erl`` (start: ignore/stop/crash/already_started/
timeout; call; cast; info; continue; idle timeouts; hibernate; deferred reply;
terminate on parent EXIT; late replies). Synchronisation is through messages,
monitors and ``gs.sys.get_state``; idle timeouts run on a FakeClock.
"""

import ctypes
import logging
import signal
import threading

import pytest

import genserver_lite as gs
from genserver_lite.testing import FakeClock, assert_receive, refute_receive
from support import LONG, SHORT, Via, wait_down


class Stack(gs.GenServer):
    """The DESIGN.md example, plus a few requests the tests need."""

    def init(self, items):
        return ("ok", list(items))

    def handle_call(self, request, from_, state):
        match request:
            case "pop":
                head, *rest = state
                return ("reply", head, rest)
            case "noreply":
                return ("noreply", state)
            case ("stop_self", reason):
                try:
                    gs.stop(gs.self(), reason)
                except gs.Exit as e:
                    return ("reply", ("caught", e.reason), state)
            case "call_self":
                try:
                    gs.call(gs.self(), "pop")
                except gs.Exit as e:
                    return ("reply", ("caught", e.reason), state)

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                return ("noreply", [item, *state])


class Recorder(gs.GenServer):
    """Records every callback in its state and reports terminate to ``notify``.

    ``arg`` is ``(notify, init_return_builder)``; requests are instructions:
    ``("return", value)`` makes the callback return ``value`` (with ``STATE``
    replaced by the current state), ``("raise", exc)`` raises it.
    """

    def init(self, arg):
        notify, build = arg
        self.notify = notify
        return build() if callable(build) else build

    def _do(self, what, request, state):
        log = state + [(what, request)] if isinstance(state, list) else state
        match request:
            case ("return", value):
                return _fill(value, log)
            case ("raise", exc):
                raise exc
            case _:
                if what == "call":
                    return ("reply", ("ok", request), log)
                return ("noreply", log)

    def handle_call(self, request, from_, state):
        return self._do("call", request, state)

    def handle_cast(self, request, state):
        return self._do("cast", request, state)

    def handle_info(self, msg, state):
        return self._do("info", msg, state)

    def handle_continue(self, c, state):
        return self._do("continue", c, state)

    def terminate(self, reason, state):
        gs.send(self.notify, ("terminate", reason, state))


STATE = object()


def _fill(value, state):
    """``value`` with STATE, at its top level only, replaced by the current state."""
    if value is STATE:
        return state
    if type(value) is tuple:
        return tuple(state if v is STATE else v for v in value)
    return value


def recorder(init=("ok", []), *, link=False, name=None, timeout=5.0):
    start = Recorder.start_link if link else Recorder.start
    return start((gs.self(), init), name=name, timeout=timeout)


# -- start -------------------------------------------------------------------------------------

def test_start_link_links_and_start_does_not():
    pid = Stack.start_link([1])
    assert pid in gs.info(gs.self())["links"]
    assert gs.self() in gs.info(pid)["links"]
    other = Stack.start([1])
    assert other not in gs.info(gs.self())["links"]
    assert gs.info(other)["links"] == []


def test_start_waits_for_init_which_runs_in_the_new_process():
    me = gs.self()

    class Hello(gs.GenServer):
        def init(self, arg):
            gs.send(me, ("init", gs.self(), arg))
            return ("ok", arg)
    pid = Hello.start_link("arg")
    assert gs.receive(timeout=0) == ("init", pid, "arg")      # already there: start waited
    assert gs.info(pid)["behaviour"] == "GenServer"
    assert gs.info(pid)["module"] == "Hello"


def test_init_ok_with_a_state():
    pid = Stack.start([3, 2])
    assert gs.sys.get_state(pid) == [3, 2]
    assert gs.call(pid, "pop") == 3


def test_init_ignore_returns_none_and_leaves_nothing(uname):
    name = uname()
    before = set(gs.processes())
    assert recorder("ignore", link=True, name=name) is None
    assert gs.whereis(name) is None
    assert set(gs.processes()) - before <= {gs.self()}
    assert gs.flush() == []                                 # no EXIT from the link


def test_init_stop_raises_start_error_with_the_reason_and_no_exit_message():
    with pytest.raises(gs.StartError) as info:
        recorder(("stop", ("no", "thanks")), link=True)
    assert info.value.reason == ("no", "thanks")
    assert gs.flush() == []


def test_init_exception_raises_start_error_with_the_exception(caplog):
    err = ValueError("bad init")

    def build():
        raise err
    with pytest.raises(gs.StartError) as info:
        recorder(build, link=True)
    assert info.value.reason is err
    assert gs.flush() == []
    assert any("bad init" in r.getMessage() or r.exc_info and r.exc_info[1] is err
               for r in caplog.records if r.levelno == logging.ERROR)


def test_init_raising_exit_uses_its_reason():
    def build():
        raise gs.Exit(("custom", 7))
    with pytest.raises(gs.StartError) as info:
        recorder(build)
    assert info.value.reason == ("custom", 7)


def test_init_bad_return_is_bad_return_value():
    with pytest.raises(gs.StartError) as info:
        recorder(42)
    assert info.value.reason == ("bad_return_value", 42)
    with pytest.raises(gs.StartError) as info:
        recorder(("ok", [], "not an extra"))
    assert info.value.reason == ("bad_return_value", ("ok", [], "not an extra"))


def test_start_with_a_taken_name_is_already_started(uname):
    name = uname()
    first = Stack.start_link([], name=name)
    with pytest.raises(gs.StartError) as info:
        Stack.start_link([], name=name)
    assert info.value.reason == ("already_started", first)
    assert gs.whereis(name) is first
    assert gs.flush() == []
    assert gs.info(gs.self())["links"] == [first]


def test_start_with_a_taken_via_name_is_already_started():
    via = Via()
    first = Stack.start([], name=("via", via, "k"))
    with pytest.raises(gs.StartError) as info:
        Stack.start([], name=("via", via, "k"))
    assert info.value.reason == ("already_started", first)
    assert via.whereis_name("k") is first


def test_start_timeout_kills_the_child_and_raises_start_error():
    me = gs.self()

    class SlowInit(gs.GenServer):
        def init(self, _):
            gs.send(me, ("in_init", gs.self()))
            gs.receive(lambda m: m == "never")
    with pytest.raises(gs.StartError) as info:
        SlowInit.start_link(timeout=0.2)
    assert info.value.reason == "timeout"
    child = assert_receive(("in_init", ...), LONG)[1]
    assert not gs.alive(child)
    assert gs.info(gs.self())["links"] == []
    assert gs.flush() == []                                  # no EXIT, no DOWN, no ack left


def test_failed_init_with_a_via_name_unregisters_it():
    """OTP's gen:unregister_name: a via name taken for a failed init is given back."""
    via = Via()
    with pytest.raises(gs.StartError):
        recorder(("stop", "no"), name=("via", via, "k"))
    assert "k" not in via.table
    assert recorder("ignore", name=("via", via, "k")) is None
    assert "k" not in via.table
    pid = Stack.start([], name=("via", via, "k"))          # the name is free for the next start
    assert via.whereis_name("k") is pid


# -- names -------------------------------------------------------------------------------------

def test_string_name_registers_and_serves(uname):
    name = uname()
    pid = Stack.start_link(["hello"], name=name)
    assert gs.whereis(name) is pid
    assert gs.info(pid)["name"] == name
    assert gs.call(name, "pop") == "hello"
    gs.cast(name, ("push", "world"))
    assert gs.call(name, "pop") == "world"
    gs.stop(name)
    assert gs.whereis(name) is None


def test_via_name_registers_through_the_module_and_serves():
    via = Via()
    name = ("via", via, "stack")
    pid = Stack.start_link(["hello"], name=name)
    assert via.table["stack"] is pid
    assert gs.whereis(name) is pid
    assert gs.call(name, "pop") == "hello"
    gs.cast(name, ("push", "world"))
    assert gs.sys.get_state(name) == ["world"]
    gs.stop(name)
    assert not gs.alive(pid)


# -- handle_call -------------------------------------------------------------------------------

def test_call_reply():
    pid = recorder()
    assert gs.call(pid, "hello") == ("ok", "hello")
    assert gs.sys.get_state(pid) == [("call", "hello")]


def test_call_reply_with_a_timeout_extra_delivers_timeout_when_idle():
    with FakeClock() as clock:
        pid = recorder()
        assert gs.call(pid, ("return", ("reply", "r", STATE, 5))) == "r"
        assert clock.advance(4) == 0
        assert gs.sys.get_state(pid) == [("call", ("return", ("reply", "r", STATE, 5)))]
        assert clock.advance(1) == 1
        assert gs.sys.get_state(pid)[-1] == ("info", "timeout")


def test_call_reply_with_continue_runs_before_the_next_message():
    pid = recorder()
    assert gs.call(pid, ("return", ("reply", "r", STATE, ("continue", "c")))) == "r"
    gs.cast(pid, "next")
    state = gs.sys.get_state(pid)
    assert [s[0] for s in state] == ["call", "continue", "cast"]
    assert state[1] == ("continue", "c")


def test_call_noreply_with_a_deferred_reply_from_another_process():
    class Deferred(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def handle_call(self, request, from_, state):
            gs.spawn(gs.reply, from_, ("deferred", request))
            return ("noreply", state)
    pid = Deferred.start()
    assert gs.call(pid, "x") == ("deferred", "x")


def test_call_noreply_and_a_later_reply_from_the_server_itself():
    me = gs.self()

    class Parking(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def handle_call(self, request, from_, state):
            gs.send(me, "parked")
            return ("noreply", from_)

        def handle_cast(self, value, parked):
            gs.reply(parked, value)
            return ("noreply", None)
    pid = Parking.start()
    gs.spawn(lambda: gs.send(me, ("result", gs.call(pid, "park"))))
    assert_receive("parked", LONG)
    gs.cast(pid, 42)
    assert_receive(("result", 42), LONG)


def test_call_stop_with_reply_replies_after_terminate():
    pid = recorder()
    ref = gs.monitor(pid)
    assert gs.call(pid, ("return", ("stop", "normal", "bye", ["final"]))) == "bye"
    assert gs.receive(timeout=0) == ("terminate", "normal", ["final"])   # terminate ran first
    wait_down(ref, pid, "normal")


def test_call_stop_without_reply_exits_the_caller_with_the_reason():
    pid = recorder()
    ref = gs.monitor(pid)
    with pytest.raises(gs.Exit) as info:
        gs.call(pid, ("return", ("stop", ("shutdown", "done"), STATE)), LONG)
    assert info.value.reason == ("shutdown", "done")
    assert_receive(("terminate", ("shutdown", "done"), ...), LONG)
    wait_down(ref, pid, ("shutdown", "done"))


def test_call_bad_return_value_stops_the_server_and_exits_the_caller(caplog):
    pid = recorder()
    ref = gs.monitor(pid)
    with pytest.raises(gs.Exit) as info:
        gs.call(pid, ("return", None), LONG)
    assert info.value.reason == ("bad_return_value", None)
    wait_down(ref, pid, ("bad_return_value", None))
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "genserver_lite")
    assert "handle_call returned None" in text
    assert "match statement" in text


def test_call_with_a_bad_extra_is_bad_return_value():
    pid = recorder()
    bad = ("reply", 1, [], -1)
    with pytest.raises(gs.Exit) as info:
        gs.call(pid, ("return", bad), LONG)
    assert info.value.reason == ("bad_return_value", bad)


# -- call errors -------------------------------------------------------------------------------

def test_a_call_keeps_the_callers_other_messages_in_order():
    me = gs.self()
    for i in range(1000):
        gs.send(me, i)
    pid = Stack.start([1, 2])
    assert gs.call(pid, "pop") == 1
    gs.send(me, "after the first call")
    assert gs.call(pid, "pop") == 2
    assert gs.flush() == list(range(1000)) + ["after the first call"]


def test_call_timeout_is_call_timeout_an_exit_and_a_timeout_error():
    pid = Stack.start([])
    with pytest.raises(gs.CallTimeout) as info:
        gs.call(pid, "noreply", 0.05)
    assert isinstance(info.value, gs.Exit)
    assert isinstance(info.value, TimeoutError)
    assert info.value.reason == "timeout"
    assert gs.alive(pid)


def test_call_to_a_dead_pid_or_unknown_name_is_noproc(uname):
    pid = Stack.start([])
    gs.stop(pid)
    with pytest.raises(gs.NoProc):
        gs.call(pid, "pop")
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=name) as info:
        gs.call(name, "pop")
    assert info.value.reason == "noproc"
    with pytest.raises(gs.NoProc):
        gs.call(("via", Via(), "nobody"), "pop")


def test_call_exits_with_the_reason_when_the_server_crashes_mid_call():
    pid = recorder()
    err = RuntimeError("mid-call")
    with pytest.raises(gs.Exit) as info:
        gs.call(pid, ("raise", err), LONG)
    assert info.value.reason is err


def test_call_exits_with_the_reason_when_the_server_is_killed_mid_call():
    me = gs.self()

    class Hang(gs.GenServer):
        def init(self, killer):
            return ("ok", killer)

        def handle_call(self, request, from_, killer):
            gs.send(killer, gs.self())
            gs.receive(lambda m: m == "never")

    def killer():
        gs.exit(gs.receive(), ("killed_by", me))
    pid = Hang.start(gs.spawn(killer))
    with pytest.raises(gs.Exit) as info:
        gs.call(pid, "hang", LONG)
    assert info.value.reason == ("killed_by", me)
    assert not isinstance(info.value, gs.NoProc)


def test_calling_yourself_raises_exit_at_once(uname):
    name = uname()
    pid = Stack.start([1], name=name)
    assert gs.call(pid, "call_self") == ("caught", "calling_self")
    assert gs.call(name, "pop") == 1                            # the server lived on


def test_a_late_reply_after_a_timeout_is_dropped_not_left_in_the_mailbox():
    me = gs.self()

    class Late(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def handle_call(self, request, from_, state):
            return ("noreply", from_)

        def handle_cast(self, request, from_):
            gs.reply(from_, "too late")
            gs.send(me, "replied")
            return ("noreply", None)
    pid = Late.start()
    with pytest.raises(gs.CallTimeout):
        gs.call(pid, "wait", 0.05)
    gs.cast(pid, "release")
    assert_receive("replied", LONG)
    assert gs.flush() == []
    assert pid not in gs.info(gs.self())["monitors"]
    assert gs.info(pid)["monitored_by"] == []


def test_a_late_reply_to_a_server_returning_reply_is_dropped_too():
    me = gs.self()

    class SlowReply(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def handle_call(self, request, from_, state):
            gs.receive(lambda m: m == "go")
            return ("reply", "too late", state)

        def handle_cast(self, request, state):
            gs.send(me, "handled")
            return ("noreply", state)
    pid = SlowReply.start()
    with pytest.raises(gs.CallTimeout):
        gs.call(pid, "slow", 0.05)
    gs.send(pid, "go")
    gs.cast(pid, "after")
    assert_receive("handled", LONG)
    assert gs.flush() == []


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="SIGINT is delivered to the main thread only")
def test_keyboard_interrupt_during_a_call_leaves_no_monitor_or_alias_behind():
    main = threading.main_thread().ident
    me = gs.self()

    class Interrupter(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def handle_call(self, request, from_, state):
            signal.pthread_kill(main, signal.SIGINT)     # Ctrl-C while the caller waits
            return ("noreply", from_)

        def handle_cast(self, request, from_):
            gs.reply(from_, "late")
            gs.send(me, "replied")
            return ("noreply", None)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        pid = Interrupter.start()
        with pytest.raises(KeyboardInterrupt):
            gs.call(pid, "interrupt me", LONG)
    finally:
        signal.signal(signal.SIGINT, old)
    assert me._proc.aliases == {}
    assert gs.info(me)["monitors"] == []
    assert gs.info(pid)["monitored_by"] == []
    gs.cast(pid, "release")
    assert_receive("replied", LONG)
    assert gs.flush() == []


def test_kill_of_a_caller_thread_via_async_exception_cleans_up_too():
    """The same finally-path, driven by an asynchronous exception in a process thread."""
    me = gs.self()

    class Interrupter(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def handle_call(self, ident, from_, state):
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                       ctypes.py_object(KeyboardInterrupt))
            gs.send(from_[0], "wake")   # the caller blocks in C: a message lets the exception land
            return ("noreply", state)
    pid = Interrupter.start()

    def caller():
        try:
            gs.call(pid, threading.get_ident(), LONG)
        except KeyboardInterrupt:
            p = gs.self()._proc
            gs.send(me, ("clean", dict(p.aliases), gs.info(gs.self())["monitors"], gs.flush()))
    gs.spawn(caller)
    assert_receive(("clean", {}, [], []), LONG)


# -- cast, info, continue ----------------------------------------------------------------------

def test_cast_returns_none_and_is_handled_in_order():
    pid = recorder()
    for i in range(20):
        assert gs.cast(pid, i) is None
    assert gs.sys.get_state(pid) == [("cast", i) for i in range(20)]


def test_cast_never_raises_for_unknown_or_dead_servers(uname):
    assert gs.cast(uname("nobody"), "x") is None
    pid = Stack.start([])
    gs.stop(pid)
    assert gs.cast(pid, "x") is None
    assert gs.cast(("via", Via(), "nobody"), "x") is None


def test_cast_and_info_return_shapes_noreply_and_stop():
    pid = recorder()
    ref = gs.monitor(pid)
    gs.cast(pid, ("return", ("noreply", STATE)))
    gs.send(pid, ("return", ("noreply", STATE, "hibernate")))
    assert [s[0] for s in gs.sys.get_state(pid)] == ["cast", "info"]
    gs.send(pid, ("return", ("stop", "normal", ["last"])))
    assert_receive(("terminate", "normal", ["last"]), LONG)
    wait_down(ref, pid, "normal")


def test_cast_stop_with_a_reason():
    pid = recorder()
    ref = gs.monitor(pid)
    gs.cast(pid, ("return", ("stop", "shutdown", STATE)))
    assert_receive(("terminate", "shutdown", ...), LONG)
    wait_down(ref, pid, "shutdown")


@pytest.mark.parametrize("what", ["cast", "info", "continue"])
def test_bad_return_values_stop_the_server(what):
    bad = ("reply", "not allowed here", [])
    pid = recorder()
    ref = gs.monitor(pid)
    if what == "cast":
        gs.cast(pid, ("return", bad))
    elif what == "info":
        gs.send(pid, ("return", bad))
    else:
        gs.cast(pid, ("return", ("noreply", STATE, ("continue", ("return", bad)))))
    wait_down(ref, pid, ("bad_return_value", bad))
    assert_receive(("terminate", ("bad_return_value", bad), ...), LONG)


def test_continue_from_init_runs_before_messages_already_queued():
    class Cont(gs.GenServer):
        def init(self, _):
            gs.send(gs.self(), "queued before continue")
            return ("ok", [], ("continue", "c"))

        def handle_continue(self, c, state):
            return ("noreply", state + [("continue", c)])

        def handle_info(self, msg, state):
            return ("noreply", state + [("info", msg)])
    pid = Cont.start()
    assert gs.sys.get_state(pid) == [("continue", "c"), ("info", "queued before continue")]


def test_continue_from_cast_runs_before_queued_messages():
    pid = recorder()
    gs.sys.suspend(pid)                      # queue messages behind the first cast
    gs.cast(pid, ("return", ("noreply", STATE, ("continue", "c1"))))
    gs.cast(pid, "second")
    gs.send(pid, "third")
    gs.sys.resume(pid)
    assert gs.sys.get_state(pid) == [
        ("cast", ("return", ("noreply", STATE, ("continue", "c1")))),
        ("continue", "c1"), ("cast", "second"), ("info", "third")]


def test_continue_can_chain_and_stop():
    pid = recorder()
    ref = gs.monitor(pid)
    gs.cast(pid, ("return", ("noreply", STATE, ("continue", ("return", ("noreply", STATE, (
        "continue", ("return", ("stop", "normal", STATE)))))))))
    msg = assert_receive(("terminate", "normal", ...), LONG)
    assert [s[0] for s in msg[2]] == ["cast", "continue", "continue"]
    wait_down(ref, pid, "normal")


def test_hibernate_is_accepted_everywhere():
    pid = recorder(("ok", [], "hibernate"))
    assert gs.call(pid, ("return", ("reply", "r", STATE, "hibernate"))) == "r"
    gs.cast(pid, ("return", ("noreply", STATE, "hibernate")))
    gs.send(pid, ("return", ("noreply", STATE, "hibernate")))
    assert len(gs.sys.get_state(pid)) == 3
    assert gs.alive(pid)


# -- idle timeouts -------------------------------------------------------------------------------

def test_init_timeout_delivers_timeout_when_idle():
    with FakeClock() as clock:
        pid = recorder(("ok", [], 5))
        assert clock.advance(4.5) == 0                   # not yet due
        assert clock.advance(0.5) == 1
        assert gs.sys.get_state(pid) == [("info", "timeout")]
        assert clock.advance(100) == 0                   # once, not periodic


def test_a_message_cancels_the_idle_timeout():
    with FakeClock() as clock:
        pid = recorder(("ok", [], 5))
        gs.cast(pid, "busy")
        assert gs.sys.get_state(pid) == [("cast", "busy")]
        assert clock.advance(10) == 0                    # the timer was cancelled
        assert gs.sys.get_state(pid) == [("cast", "busy")]


def test_a_new_timeout_replaces_the_old_one():
    with FakeClock() as clock:
        pid = recorder(("ok", [], 5))
        gs.cast(pid, ("return", ("noreply", STATE, 10)))
        gs.sys.get_state(pid)                            # the cast was handled (at time 0)
        assert clock.advance(5) == 0                     # the init timeout is gone
        assert clock.advance(5) == 1
        assert [s[0] for s in gs.sys.get_state(pid)] == ["cast", "info"]
        assert gs.sys.get_state(pid)[-1] == ("info", "timeout")


def test_timeout_zero_fires_at_once_when_the_mailbox_is_empty():
    class Zero(gs.GenServer):
        def init(self, notify):
            return ("ok", notify, 0)

        def handle_info(self, msg, notify):
            gs.send(notify, ("info", msg))
            return ("noreply", notify)
    Zero.start(gs.self())
    assert_receive(("info", "timeout"), LONG)


def test_timeout_zero_does_not_fire_when_a_message_is_queued():
    pid = recorder()
    gs.sys.suspend(pid)
    gs.cast(pid, ("return", ("noreply", STATE, 0)))
    gs.cast(pid, "queued")
    gs.sys.resume(pid)
    state = gs.sys.get_state(pid)
    assert [entry[0] for entry in state] == ["cast", "cast"]
    assert state[1] == ("cast", "queued")               # and no ("info", "timeout")


def test_idle_timeout_on_the_real_clock():
    class Real(gs.GenServer):
        def init(self, notify):
            return ("ok", notify, 0.01)

        def handle_info(self, msg, notify):
            gs.send(notify, ("info", msg))
            return ("noreply", notify)
    Real.start(gs.self())
    assert_receive(("info", "timeout"), LONG)


# -- stop and terminate ----------------------------------------------------------------------------

def test_stop_runs_terminate_and_waits_for_the_exit():
    pid = recorder()
    assert gs.stop(pid) is None
    assert not gs.alive(pid)
    assert gs.receive(timeout=0) == ("terminate", "normal", [])


def test_stop_with_a_reason(uname):
    name = uname()
    pid = recorder(name=name)
    gs.stop(name, ("shutdown", "bye"))
    assert not gs.alive(pid)
    assert_receive(("terminate", ("shutdown", "bye"), []), LONG)


def test_stop_of_an_unknown_or_dead_server_is_noproc(uname):
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=name):
        gs.stop(name)
    pid = Stack.start([])
    gs.stop(pid)
    with pytest.raises(gs.NoProc):
        gs.stop(pid)


def test_stop_of_yourself_raises_exit():
    pid = Stack.start([])
    assert gs.call(pid, ("stop_self", "normal")) == ("caught", "calling_self")


def test_stop_reports_another_exit_reason_when_terminate_crashes():
    err = ValueError("terminate failed")

    class BadTerminate(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def terminate(self, reason, state):
            raise err
    pid = BadTerminate.start()
    with pytest.raises(gs.Exit) as info:
        gs.stop(pid)
    assert info.value.reason is err


def test_stop_timeout_raises_call_timeout():
    class Stuck(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def terminate(self, reason, state):
            gs.receive(lambda m: m == "never")
    pid = Stuck.start()
    with pytest.raises(gs.CallTimeout):
        gs.stop(pid, timeout=0.1)
    assert gs.flush() == []


def test_terminate_runs_on_a_crash_in_a_callback():
    pid = recorder()
    ref = gs.monitor(pid)
    err = KeyError("oops")
    gs.cast(pid, ("raise", err))
    assert_receive(("terminate", err, []), LONG)
    wait_down(ref, pid, err)


def test_raise_exit_in_a_callback_exits_with_its_reason():
    pid = recorder()
    ref = gs.monitor(pid)
    gs.cast(pid, ("raise", gs.Exit("my_reason")))
    assert_receive(("terminate", "my_reason", []), LONG)
    wait_down(ref, pid, "my_reason")


def test_terminate_runs_on_exit_from_the_parent_when_trapping():
    class Trapper(Recorder):
        def init(self, arg):
            gs.trap_exit(True)
            return super().init(arg)
    pid = Trapper.start_link((gs.self(), ("ok", [])))
    ref = gs.monitor(pid)
    gs.exit(pid, "shutdown")
    assert_receive(("terminate", "shutdown", []), LONG)
    wait_down(ref, pid, "shutdown")


def test_exit_from_a_non_parent_goes_to_handle_info_when_trapping():
    class Trapper(Recorder):
        def init(self, arg):
            gs.trap_exit(True)
            return super().init(arg)
    pid = Trapper.start((gs.self(), ("ok", [])))
    def stranger_body():
        gs.link(pid)
        gs.send(pid, "linked")
        raise gs.Exit("stranger_died")
    stranger = gs.spawn(stranger_body)
    gs.testing.wait_until(lambda: len(gs.sys.get_state(pid)) == 2, LONG)
    assert gs.sys.get_state(pid) == [("info", "linked"), ("info", ("EXIT", stranger, "stranger_died"))]
    assert gs.flush() == []


def test_terminate_does_not_run_on_kill():
    class Trapper(Recorder):
        def init(self, arg):
            gs.trap_exit(True)
            return super().init(arg)
    pid = Trapper.start((gs.self(), ("ok", [])))
    ref = gs.monitor(pid)
    gs.exit(pid, "kill")
    wait_down(ref, pid, "killed")
    refute_receive(("terminate", ..., ...), SHORT)


def test_terminate_does_not_run_on_an_untrapped_exit_signal():
    pid = recorder()
    ref = gs.monitor(pid)
    gs.exit(pid, "boom")
    wait_down(ref, pid, "boom")
    refute_receive(("terminate", ..., ...), SHORT)


# -- default callbacks ---------------------------------------------------------------------------

class Bare(gs.GenServer):
    def init(self, _):
        return ("ok", "state")


def test_default_handle_call_crashes_naming_the_request():
    pid = Bare.start()
    with pytest.raises(gs.Exit) as info:
        gs.call(pid, ("unknown", 1), LONG)
    reason = info.value.reason
    assert isinstance(reason, RuntimeError)
    assert "('unknown', 1)" in str(reason) and "Bare" in str(reason)


def test_default_handle_cast_crashes_naming_the_request():
    pid = Bare.start()
    ref = gs.monitor(pid)
    gs.cast(pid, "surprise")
    reason = wait_down(ref, pid)[4]
    assert isinstance(reason, RuntimeError)
    assert "'surprise'" in str(reason)


def test_default_handle_info_logs_a_warning_and_carries_on(caplog):
    caplog.set_level(logging.WARNING, logger="genserver_lite")
    pid = Bare.start()
    gs.send(pid, ("unexpected", 123))
    assert gs.sys.get_state(pid) == "state"
    warnings = [r for r in caplog.records
                if r.name == "genserver_lite" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "('unexpected', 123)" in warnings[0].getMessage()
    assert "Bare" in warnings[0].getMessage()


def test_default_handle_continue_crashes():
    class NoContinue(gs.GenServer):
        def init(self, _):
            return ("ok", None)

        def handle_cast(self, request, state):
            return ("noreply", state, ("continue", request))
    pid = NoContinue.start()
    ref = gs.monitor(pid)
    gs.cast(pid, "x")
    reason = wait_down(ref, pid)[4]
    assert isinstance(reason, RuntimeError) and "handle_continue" in str(reason)


def test_default_code_change_and_terminate():
    b = Bare()
    assert b.code_change(None, "s", None) == ("ok", "s")
    assert b.terminate("normal", "s") is None


# -- crash reports ---------------------------------------------------------------------------------

def test_a_crash_is_logged_with_server_last_message_state_and_reason(caplog, uname):
    caplog.set_level(logging.WARNING, logger="genserver_lite")
    name = uname()

    class Counter(gs.GenServer):
        def init(self, _):
            return ("ok", {"count": 3})

        def handle_cast(self, request, state):
            raise ValueError("kaboom")
    pid = Counter.start(name=name)
    ref = gs.monitor(pid)
    gs.cast(pid, "explode")
    wait_down(ref, pid)
    errors = [r for r in caplog.records if r.name == "genserver_lite" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    text = errors[0].getMessage()
    assert name in text and repr(pid) in text
    assert "Last message" in text and "'explode'" in text
    assert "State" in text and "{'count': 3}" in text
    assert "Reason" in text and "kaboom" in text
    assert errors[0].exc_info and isinstance(errors[0].exc_info[1], ValueError)


@pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", "x")])
def test_normal_and_shutdown_exits_are_not_logged(caplog, reason):
    caplog.set_level(logging.DEBUG, logger="genserver_lite")
    pid = recorder()
    gs.stop(pid, reason)
    pid2 = recorder()
    ref = gs.monitor(pid2)
    gs.cast(pid2, ("return", ("stop", reason, STATE)))
    wait_down(ref, pid2, reason)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("reason", ["shutdown", ("shutdown", "reason")])
def test_raising_a_shutdown_exit_in_handle_call_exits_the_caller_without_a_crash_report(caplog, reason):
    caplog.set_level(logging.DEBUG, logger="genserver_lite")
    pid = recorder()
    ref = gs.monitor(pid)
    with pytest.raises(gs.Exit) as info:
        gs.call(pid, ("raise", gs.Exit(reason)), LONG)
    assert info.value.reason == reason
    wait_down(ref, pid, reason)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_other_stop_reasons_are_logged(caplog):
    pid = recorder()
    ref = gs.monitor(pid)
    gs.cast(pid, ("return", ("stop", "bad_thing", STATE)))
    wait_down(ref, pid, "bad_thing")
    errors = [r for r in caplog.records if r.name == "genserver_lite" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and "bad_thing" in errors[0].getMessage()


# -- child_spec ------------------------------------------------------------------------------------

def test_child_spec_defaults():
    spec = Stack.child_spec([1])
    assert spec["id"] is Stack
    assert spec["restart"] == "permanent"
    assert spec["shutdown"] == 5.0
    assert spec["type"] == "worker"
    fn, args = spec["start"]
    assert args == ([1],)
    pid = fn(*args)
    assert gs.call(pid, "pop") == 1
    assert pid in gs.info(gs.self())["links"]


def test_child_spec_follows_class_attributes():
    class Temp(Stack):
        restart = "temporary"
        shutdown = "brutal_kill"

    class Trans(Stack):
        restart = "transient"
        shutdown = "infinity"
    assert Temp.child_spec(None)["restart"] == "temporary"
    assert Temp.child_spec(None)["shutdown"] == "brutal_kill"
    assert Temp.child_spec(None)["id"] is Temp
    assert Trans.child_spec(None)["restart"] == "transient"
    assert Trans.child_spec(None)["shutdown"] == "infinity"
