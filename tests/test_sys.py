"""gs.sys: system messages (OTP ``sys``): get_state, replace_state, suspend/resume, change_code, get_status.

Behaviours from OTP's ``sys`` and ``gen_server_SUITE`` (get_state/replace_state,
suspend holds ordinary messages, code_change needs a suspended server and an
error keeps the old code).
"""

import pytest

import genserver_lite as gs
from genserver_lite.testing import assert_receive
from support import LONG


class Log(gs.GenServer):
    """A list of everything it was sent; version 1."""

    vsn = 1

    def init(self, items):
        return ("ok", list(items))

    def handle_call(self, request, from_, state):
        match request:
            case "version":
                return ("reply", 1, state)
            case "block":
                gs.receive(lambda m: m == "unblock")
                return ("reply", "unblocked", state)
            case _:
                return ("reply", request, state + [("call", request)])

    def handle_cast(self, request, state):
        return ("noreply", state + [("cast", request)])

    def handle_info(self, msg, state):
        return ("noreply", state + [("info", msg)])


class LogV2(Log):
    """Version 2: answers "version" with 2 and keeps a dict state."""

    vsn = 2

    def handle_call(self, request, from_, state):
        if request == "version":
            return ("reply", 2, state)
        return super().handle_call(request, from_, state)

    def handle_cast(self, request, state):
        return ("noreply", {**state, "casts": state.get("casts", []) + [request]})

    def code_change(self, old_vsn, state, extra):
        return ("ok", {"upgraded_from": old_vsn, "extra": extra, "old": state})


class RefusingV2(Log):
    vsn = 2

    def code_change(self, old_vsn, state, extra):
        return ("error", ("cannot_upgrade", old_vsn))


class CrashingV2(Log):
    vsn = 2

    def code_change(self, old_vsn, state, extra):
        raise ValueError("upgrade bug")


class BadReturnV2(Log):
    vsn = 2

    def code_change(self, old_vsn, state, extra):
        return "yes"


# -- get_state, replace_state -----------------------------------------------------------------

def test_get_state_is_a_barrier_after_casts():
    pid = Log.start([])
    for i in range(50):
        gs.cast(pid, i)
    assert gs.sys.get_state(pid) == [("cast", i) for i in range(50)]


def test_get_state_by_name_and_via(uname):
    name = uname()
    Log.start(["x"], name=name)
    assert gs.sys.get_state(name) == ["x"]


def test_get_state_is_ordered_with_info_messages():
    pid = Log.start([])
    gs.send(pid, "info")
    assert gs.sys.get_state(pid) == [("info", "info")]


def test_replace_state_returns_the_new_state_and_runs_in_the_server():
    pid = Log.start([1])
    seen = []

    def fn(state):
        seen.append(gs.self())
        return state + [2]
    assert gs.sys.replace_state(pid, fn) == [1, 2]
    assert seen == [pid]
    assert gs.sys.get_state(pid) == [1, 2]
    assert gs.call(pid, "x") == "x"
    assert gs.sys.get_state(pid) == [1, 2, ("call", "x")]


def test_replace_state_with_a_raising_fn_keeps_the_state_and_raises_exit():
    pid = Log.start([1])
    err = KeyError("nope")

    def fn(state):
        raise err
    with pytest.raises(gs.Exit) as info:
        gs.sys.replace_state(pid, fn)
    assert info.value.reason == ("callback_failed", err)
    assert info.value.reason[1] is err
    assert gs.sys.get_state(pid) == [1]
    assert gs.alive(pid)


def test_sys_on_an_unknown_or_dead_server_is_noproc(uname):
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=name):
        gs.sys.get_state(name)
    pid = Log.start([])
    gs.stop(pid)
    with pytest.raises(gs.NoProc):
        gs.sys.get_state(pid)
    with pytest.raises(gs.NoProc):
        gs.sys.suspend(pid)


def test_get_state_of_a_busy_server_times_out():
    pid = Log.start([])
    me = gs.self()
    gs.spawn(lambda: gs.send(me, ("done", gs.call(pid, "block"))))
    with pytest.raises(gs.CallTimeout):
        gs.sys.get_state(pid, timeout=0.05)
    gs.send(pid, "unblock")
    assert_receive(("done", "unblocked"), LONG)
    assert gs.sys.get_state(pid) == []
    assert gs.flush() == []                    # the late system reply was dropped


# -- suspend, resume --------------------------------------------------------------------------

def test_suspended_server_handles_only_system_messages_and_keeps_the_rest_in_order():
    pid = Log.start([])
    gs.sys.suspend(pid)
    gs.cast(pid, "a")
    gs.send(pid, "b")
    gs.cast(pid, "c")
    assert gs.sys.get_state(pid) == []             # system messages still answered
    assert gs.info(pid)["status"] == "suspended"
    assert gs.info(pid)["message_queue_len"] == 3
    assert gs.sys.get_status(pid)["status"] == "suspended"
    gs.sys.resume(pid)
    assert gs.sys.get_state(pid) == [("cast", "a"), ("info", "b"), ("cast", "c")]
    assert gs.sys.get_status(pid)["status"] == "running"


def test_a_call_to_a_suspended_server_waits_until_resume():
    pid = Log.start([])
    gs.sys.suspend(pid)
    with pytest.raises(gs.CallTimeout):
        gs.call(pid, "while suspended", 0.05)
    me = gs.self()
    gs.spawn(lambda: gs.send(me, ("answer", gs.call(pid, "queued call", LONG))))
    gs.testing.wait_until(lambda: gs.info(pid)["message_queue_len"] == 2, LONG)
    gs.sys.resume(pid)
    assert_receive(("answer", "queued call"), LONG)
    assert gs.sys.get_state(pid) == [("call", "while suspended"), ("call", "queued call")]
    assert gs.flush() == []                           # the timed-out call's late reply was dropped


def test_resume_of_a_running_server_is_harmless():
    pid = Log.start([])
    gs.sys.resume(pid)
    gs.cast(pid, "x")
    assert gs.sys.get_state(pid) == [("cast", "x")]


def test_stop_works_on_a_suspended_server():
    pid = Log.start([])
    gs.sys.suspend(pid)
    gs.stop(pid)
    assert not gs.alive(pid)


# -- change_code --------------------------------------------------------------------------------

def test_change_code_needs_a_suspended_server():
    pid = Log.start([])
    with pytest.raises(gs.Exit) as info:
        gs.sys.change_code(pid, LogV2, 1)
    assert info.value.reason[0] == "not_suspended"
    assert gs.call(pid, "version") == 1


def test_change_code_upgrades_state_and_callbacks():
    pid = Log.start(["old"])
    gs.cast(pid, "queued before the upgrade")
    gs.sys.suspend(pid)
    gs.cast(pid, "queued during the upgrade")
    gs.sys.change_code(pid, LogV2, 1, extra="x")
    state = gs.sys.get_state(pid)
    assert state == {"upgraded_from": 1, "extra": "x",
                     "old": ["old", ("cast", "queued before the upgrade")]}
    status = gs.sys.get_status(pid)
    assert status["module"] is LogV2 and status["vsn"] == 2
    assert gs.info(pid)["module"] == "LogV2"
    gs.sys.resume(pid)
    assert gs.call(pid, "version") == 2
    assert gs.sys.get_state(pid)["casts"] == ["queued during the upgrade"]   # handled by V2


def test_change_code_error_keeps_the_old_code_and_state():
    pid = Log.start(["s"])
    gs.sys.suspend(pid)
    with pytest.raises(gs.Exit) as info:
        gs.sys.change_code(pid, RefusingV2, 1)
    assert info.value.reason == ("cannot_upgrade", 1)
    gs.sys.resume(pid)
    assert gs.call(pid, "version") == 1
    assert gs.sys.get_state(pid) == ["s"]
    assert gs.sys.get_status(pid)["module"] is Log


def test_change_code_crash_keeps_the_old_code_and_the_server_alive():
    pid = Log.start(["s"])
    gs.sys.suspend(pid)
    with pytest.raises(gs.Exit) as info:
        gs.sys.change_code(pid, CrashingV2, 1)
    assert info.value.reason[0] == "code_change_failed"
    assert isinstance(info.value.reason[1], ValueError)
    gs.sys.resume(pid)
    assert gs.call(pid, "version") == 1
    assert gs.sys.get_state(pid) == ["s"]


def test_change_code_bad_return_keeps_the_old_code():
    pid = Log.start(["s"])
    gs.sys.suspend(pid)
    with pytest.raises(gs.Exit) as info:
        gs.sys.change_code(pid, BadReturnV2, 1)
    assert info.value.reason == ("bad_return_value", "yes")
    gs.sys.resume(pid)
    assert gs.sys.get_status(pid)["module"] is Log


# -- get_status ---------------------------------------------------------------------------------

def test_get_status_fields(uname):
    name = uname()
    pid = Log.start_link(["s"], name=name)
    status = gs.sys.get_status(pid)
    assert status["pid"] is pid
    assert status["name"] == name
    assert status["module"] is Log
    assert status["vsn"] == 1
    assert status["state"] == ["s"]
    assert status["parent"] is gs.self()
    assert status["status"] == "running"


def test_get_status_parent_of_an_unlinked_server_is_itself():
    pid = Log.start([])
    assert gs.sys.get_status(pid)["parent"] is pid
