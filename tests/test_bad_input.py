"""The bad-input catalogue: every wrong use raises a specific exception whose message names the culprit.

One section per area of the API. Each case asserts the exception TYPE and that
the message names the bad value or the broken rule. Other areas (supervisor,
registry, ...) append their own sections at the end of this file.
"""

import math

import pytest

import genserver_lite as gs
from genserver_lite.testing import FakeClock, assert_receive
from support import LONG


class Echo(gs.GenServer):
    def init(self, arg):
        return ("ok", arg)

    def handle_call(self, request, from_, state):
        match request:
            case "call_self":
                try:
                    gs.call(gs.self(), "x")
                except gs.Exit as e:
                    return ("reply", e, state)
            case ("return", value):
                return value
            case _:
                return ("reply", request, state)


@pytest.fixture
def server():
    return Echo.start()


def in_process(fn):
    """Run ``fn()`` in another process; return what it raised (or fail)."""
    me = gs.self()

    def body():
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - reported to the test
            gs.send(me, ("raised", gs.self(), e))
        else:
            gs.send(me, ("raised", gs.self(), None))
    pid = gs.spawn(body)
    exc = assert_receive(("raised", pid, ...), LONG)[2]
    assert exc is not None, "expected an exception"
    return exc


# == processes ====================================================================================

@pytest.mark.parametrize("spawn", [gs.spawn, gs.spawn_link, gs.spawn_monitor])
def test_spawn_of_a_non_callable(spawn):
    with pytest.raises(TypeError, match="spawn needs a callable, got 42"):
        spawn(42)


def test_send_to_something_that_is_not_a_destination():
    with pytest.raises(TypeError, match="destination must be a Pid.*got 42"):
        gs.send(42, "x")


def test_send_to_an_unknown_name(uname):
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=f"cannot send to '{name}'"):
        gs.send(name, "x")


def test_send_through_a_via_module_without_the_via_functions():
    with pytest.raises(TypeError, match=r"via module 'NotAModule'.*has no register_name\(\)"):
        gs.send(("via", "NotAModule", "k"), "x")


def test_receive_with_a_negative_timeout():
    with pytest.raises(ValueError, match="timeout must not be negative, got -1"):
        gs.receive(timeout=-1)


def test_receive_with_a_timeout_that_is_not_a_number():
    with pytest.raises(TypeError, match="timeout must be a number of seconds or None, got 'soon'"):
        gs.receive(timeout="soon")


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_receive_with_an_infinite_or_nan_timeout(value):
    with pytest.raises(ValueError, match=r"finite number of seconds \(None waits forever\), got"):
        gs.receive(timeout=value)


def test_sleep_with_a_negative_or_missing_time():
    with pytest.raises(ValueError, match="seconds must not be negative, got -0.5"):
        gs.sleep(-0.5)
    with pytest.raises(TypeError, match="seconds must be a number of seconds, got None"):
        gs.sleep(None)


@pytest.mark.parametrize("fn, name", [(gs.link, "link"), (gs.unlink, "unlink"), (gs.alive, "alive"),
                                      (gs.info, "info")])
def test_pid_functions_given_something_else(fn, name):
    with pytest.raises(TypeError, match=f"{name} needs a Pid, got 'pid'"):
        fn("pid")


def test_exit_of_something_that_is_not_a_pid():
    with pytest.raises(TypeError, match="exit needs a Pid, got 42"):
        gs.exit(42, "kill")


def test_monitor_of_something_that_is_not_a_destination():
    with pytest.raises(TypeError, match="destination must be.*got 42"):
        gs.monitor(42)


def test_demonitor_of_something_that_is_not_a_ref():
    with pytest.raises(TypeError, match="demonitor needs the Ref that monitor\\(\\) returned, got 'x'"):
        gs.demonitor("x")


def test_trap_exit_with_a_non_bool():
    with pytest.raises(TypeError, match="trap_exit needs True or False, got 'yes'"):
        gs.trap_exit("yes")


def test_link_to_a_dead_process_without_trapping():
    dead, ref = gs.spawn_monitor(lambda: None)
    assert_receive(("DOWN", ref, "process", dead, ...), LONG)
    exc = in_process(lambda: gs.link(dead))
    assert isinstance(exc, gs.NoProc)
    assert f"cannot link to {dead!r}" in str(exc)


# == names ===========================================================================================

@pytest.mark.parametrize("bad", ["", 123, None])
def test_register_an_invalid_name(bad):
    with pytest.raises(ValueError, match=f"registered name must be a non-empty string, got {bad!r}"):
        gs.register(bad, gs.self())


def test_register_a_taken_name(uname):
    name = uname()
    holder = gs.spawn(lambda: gs.receive())
    gs.register(name, holder)
    with pytest.raises(ValueError, match=f"name '{name}' is already registered to {holder!r}"):
        gs.register(name, gs.self())


def test_register_something_that_is_not_a_pid(uname):
    with pytest.raises(TypeError, match="register needs a Pid, got 'me'"):
        gs.register(uname(), "me")


def test_register_a_dead_pid(uname):
    name = uname()
    dead, ref = gs.spawn_monitor(lambda: None)
    assert_receive(("DOWN", ref, "process", dead, ...), LONG)
    with pytest.raises(ValueError, match=f"cannot register '{name}': {dead!r} is not alive"):
        gs.register(name, dead)


def test_register_a_second_name_for_one_process(uname):
    first, second = uname("a"), uname("b")
    gs.register(first, gs.self())
    with pytest.raises(ValueError, match=f"already registered as '{first}'"):
        gs.register(second, gs.self())


def test_unregister_an_unknown_name(uname):
    name = uname("nobody")
    with pytest.raises(ValueError, match=f"name '{name}' is not registered"):
        gs.unregister(name)


def test_whereis_of_something_that_is_not_a_name():
    with pytest.raises(TypeError, match="got 42"):
        gs.whereis(42)


def test_reset_inside_a_process():
    exc = in_process(gs.reset)
    assert isinstance(exc, RuntimeError)
    assert "gs.reset() cannot be called from inside a process" in str(exc)


def test_reset_with_a_negative_timeout():
    with pytest.raises(ValueError, match="timeout must not be negative, got -1"):
        gs.reset(-1)


# == GenServer: start ==================================================================================

def test_start_link_with_a_name_that_is_neither_str_nor_via():
    with pytest.raises(TypeError, match=r"name= must be a string or a \('via', module, key\) tuple, got 42"):
        Echo.start_link(name=42)


def test_start_link_with_an_empty_name():
    with pytest.raises(ValueError, match="name= must be a non-empty string"):
        Echo.start_link(name="")


def test_start_link_with_a_via_name_whose_module_is_not_one():
    with pytest.raises(TypeError, match=r"via module 'Registry'.*has no register_name\(\)"):
        Echo.start_link(name=("via", "Registry", "k"))


def test_start_link_with_a_negative_timeout():
    with pytest.raises(ValueError, match="timeout must not be negative, got -1"):
        Echo.start_link(timeout=-1)


def test_start_with_a_taken_name(uname):
    name = uname()
    first = Echo.start(name=name)
    with pytest.raises(gs.StartError, match=f"already_started.*{first!r}") as info:
        Echo.start(name=name)
    assert info.value.reason == ("already_started", first)


def test_init_returning_garbage_is_bad_return_value():
    class Bad(gs.GenServer):
        def init(self, _):
            return 42
    with pytest.raises(gs.StartError, match=r"\('bad_return_value', 42\)") as info:
        Bad.start()
    assert info.value.reason == ("bad_return_value", 42)


def test_init_returning_a_bad_extra_is_bad_return_value():
    class Bad(gs.GenServer):
        def init(self, _):
            return ("ok", None, -5)
    with pytest.raises(gs.StartError, match="bad_return_value") as info:
        Bad.start()
    assert info.value.reason == ("bad_return_value", ("ok", None, -5))


def test_a_class_without_init_fails_to_start_naming_init():
    class NoInit(gs.GenServer):
        pass
    with pytest.raises(gs.StartError, match=r"NoInit failed to start.*NoInit defines no init\(self, arg\)") as info:
        NoInit.start()
    assert isinstance(info.value.reason, TypeError)


# == GenServer: call, cast, reply, stop ========================================================================

def test_call_with_a_negative_timeout(server):
    with pytest.raises(ValueError, match="timeout must not be negative, got -1"):
        gs.call(server, "x", timeout=-1)


def test_call_with_a_bool_timeout(server):
    with pytest.raises(TypeError, match="timeout must be a number of seconds or None, got True"):
        gs.call(server, "x", timeout=True)


def test_call_to_an_unknown_name(uname):
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=f"call to '{name}' failed"):
        gs.call(name, "x")


def test_call_to_something_that_is_not_a_server():
    with pytest.raises(TypeError, match="got 42"):
        gs.call(42, "x")


def test_cast_to_something_that_is_not_a_server():
    with pytest.raises(TypeError, match="got 3.5"):
        gs.cast(3.5, "x")


def test_calling_yourself(server):
    exc = gs.call(server, "call_self")
    assert isinstance(exc, gs.Exit)
    assert exc.reason == "calling_self"
    assert "cannot call itself" in str(exc) and "deadlock" in str(exc)


def test_handle_call_returning_garbage_exits_the_caller_with_bad_return_value(server):
    with pytest.raises(gs.Exit, match=r"bad_return_value.*'garbage'") as info:
        gs.call(server, ("return", "garbage"), LONG)
    assert info.value.reason == ("bad_return_value", "garbage")


def test_reply_with_something_that_is_not_a_from():
    with pytest.raises(TypeError, match=r"reply needs the from_ argument of handle_call.*got 'bad from'"):
        gs.reply("bad from", 1)


def test_stop_of_an_unknown_name(uname):
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=f"stop to '{name}' failed"):
        gs.stop(name)


def test_stop_with_a_negative_timeout(server):
    with pytest.raises(ValueError, match="timeout must not be negative, got -2"):
        gs.stop(server, timeout=-2)
    assert gs.alive(server)                       # OTP's stop3: a bad stop leaves the server running


# == timers ================================================================================================

def test_send_after_with_a_negative_delay():
    with pytest.raises(ValueError, match="seconds must not be negative, got -1"):
        gs.send_after(gs.self(), "m", -1)


def test_send_after_with_no_delay():
    with pytest.raises(TypeError, match="seconds must be a number of seconds, got None"):
        gs.send_after(gs.self(), "m", None)


def test_send_after_to_something_that_is_not_a_destination():
    with pytest.raises(TypeError, match="timer's destination must be a Pid.*got 42"):
        gs.send_after(42, "m", 1)


@pytest.mark.parametrize("fn, name", [(gs.cancel_timer, "cancel_timer"), (gs.read_timer, "read_timer")])
def test_cancel_or_read_of_something_that_is_not_a_timer(fn, name):
    with pytest.raises(TypeError, match=f"{name} needs a TimerRef from send_after, got 'x'"):
        fn("x")


def test_fake_clock_advanced_backwards():
    with FakeClock() as clock:
        with pytest.raises(ValueError, match="seconds must not be negative, got -1"):
            clock.advance(-1)


def test_fake_clock_installed_over_pending_timers():
    ref = gs.send_after(gs.self(), "m", 60)
    with pytest.raises(RuntimeError, match="cannot change the clock while timers are pending"):
        FakeClock().__enter__()
    gs.cancel_timer(ref)


# == gs.sys ================================================================================================

def test_replace_state_with_a_non_callable(server):
    with pytest.raises(TypeError, match="replace_state needs a function of the state, got 42"):
        gs.sys.replace_state(server, 42)


def test_change_code_with_something_that_is_not_a_class(server):
    with pytest.raises(TypeError, match="change_code needs the new GenServer class, got 'notaclass'"):
        gs.sys.change_code(server, "notaclass", 1)


def test_change_code_of_a_running_server(server):
    with pytest.raises(gs.Exit, match="not_suspended.*gs.sys.suspend") as info:
        gs.sys.change_code(server, Echo, None)
    assert info.value.reason[0] == "not_suspended"


def test_sys_request_to_an_unknown_name(uname):
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=f"'{name}'"):
        gs.sys.get_state(name)


def test_sys_request_with_a_negative_timeout(server):
    with pytest.raises(ValueError, match="timeout must not be negative"):
        gs.sys.get_state(server, timeout=-1)


# == Task ==================================================================================================

@pytest.mark.parametrize("start", [gs.Task.async_, gs.Task.start, gs.Task.start_link])
def test_task_of_a_non_callable(start):
    with pytest.raises(TypeError, match="a task needs a callable, got 42"):
        start(42)


@pytest.mark.parametrize("fn, name", [(gs.Task.await_, "await_"), (gs.Task.yield_, "yield_"),
                                      (gs.Task.shutdown, "shutdown")])
def test_task_functions_given_something_that_is_not_a_task(fn, name):
    with pytest.raises(TypeError, match=f"Task.{name} needs a Task from Task.async_, got 'not a task'"):
        fn("not a task")


def test_await_many_given_something_that_is_not_a_task():
    with pytest.raises(TypeError, match="Task.await_many needs a Task.*got 1"):
        gs.Task.await_many([1])


@pytest.mark.parametrize("fn, name", [(gs.Task.await_, "await_"), (gs.Task.yield_, "yield_"),
                                      (gs.Task.shutdown, "shutdown")])
def test_task_functions_from_a_process_that_is_not_the_owner(fn, name):
    task = gs.Task.async_(gs.receive)
    exc = in_process(lambda: fn(task))
    assert isinstance(exc, RuntimeError)
    assert f"Task.{name}" in str(exc) and "is not the owner" in str(exc)
    assert repr(task.owner) in str(exc)
    gs.send(task.pid, "done")
    assert gs.Task.await_(task) == "done"


def test_await_with_a_negative_timeout():
    task = gs.Task.async_(lambda: 1)
    with pytest.raises(ValueError, match="timeout must not be negative, got -1"):
        gs.Task.await_(task, -1)
    assert gs.Task.await_(task) == 1


def test_shutdown_with_a_bad_timeout():
    task = gs.Task.async_(gs.receive)
    with pytest.raises(TypeError, match=r"timeout \(or 'brutal_kill'\).*got 'soon'"):
        gs.Task.shutdown(task, "soon")
    assert gs.Task.shutdown(task, "brutal_kill") is None


# == gs.testing ==============================================================================================

def test_wait_until_of_a_non_callable():
    with pytest.raises(TypeError, match="wait_until needs a function to poll, got 42"):
        gs.testing.wait_until(42)


def test_assert_receive_with_no_timeout():
    with pytest.raises(TypeError, match="timeout must be a number of seconds, got None"):
        gs.testing.assert_receive("x", None)


def test_refute_receive_with_a_negative_timeout():
    with pytest.raises(ValueError, match="timeout must not be negative"):
        gs.testing.refute_receive("x", -1)


# == Supervisor and DynamicSupervisor =========================================================================
# (the child-spec catalogue, each malformed field named with its child, is in tests/test_specs.py)

class SupChild(gs.GenServer):
    def init(self, arg):
        return ("ok", arg)


def _start_nothing():
    return None


@pytest.mark.parametrize("flags, culprit", [
    ({"strategy": "none_for_one"}, "strategy.*'none_for_one'"),
    ({"strategy": "simple_one_for_one"}, "strategy.*'simple_one_for_one'"),
    ({"max_restarts": -1}, "max_restarts.*-1"),
    ({"max_restarts": 1.5}, "max_restarts.*1.5"),
    ({"max_restarts": True}, "max_restarts.*True"),
    ({"max_restarts": None}, "max_restarts.*None"),
    ({"max_seconds": 0}, "max_seconds.*0"),
    ({"max_seconds": -5}, "max_seconds.*-5"),
    ({"max_seconds": "5"}, "max_seconds.*'5'"),
    ({"max_seconds": math.inf}, "max_seconds.*inf"),
    ({"max_seconds": math.nan}, "max_seconds.*nan"),
], ids=lambda v: str(v) if isinstance(v, dict) else "")
def test_supervisor_flags_out_of_range(flags, culprit):
    gs.self()
    before = gs.processes()
    with pytest.raises(ValueError, match=culprit):
        gs.Supervisor.start_link([SupChild], **flags)
    with pytest.raises(ValueError, match=culprit):
        gs.supervise([SupChild], **flags)
    if "strategy" not in flags:
        with pytest.raises(ValueError, match=culprit):
            gs.DynamicSupervisor.start_link(**flags)
    assert gs.processes() == before


@pytest.mark.parametrize("opts, culprit", [
    ({"strategy": "one_for_all"}, "strategy must be one of \\('one_for_one',\\), got 'one_for_all'"),
    ({"max_children": -1}, "max_children.*-1"),
    ({"max_children": 2.5}, "max_children.*2.5"),
    ({"max_children": "10"}, "max_children.*'10'"),
    ({"extra_arguments": -1}, "extra_arguments.*-1"),
    ({"extra_arguments": "abc"}, "extra_arguments.*'abc'"),
], ids=lambda v: str(v) if isinstance(v, dict) else "")
def test_dynamic_supervisor_options_out_of_range(opts, culprit):
    with pytest.raises(ValueError, match=culprit):
        gs.DynamicSupervisor.start_link(**opts)
    with pytest.raises(ValueError, match=culprit):
        gs.DynamicSupervisor.flags(**opts)


@pytest.mark.parametrize("spec, culprit", [
    ({"id": "w", "start": _start_nothing, "restart": "sometimes"}, "child 'w'.*'restart'.*'sometimes'"),
    ({"id": "w", "start": _start_nothing, "shutdown": -1}, "child 'w'.*'shutdown'.*-1"),
    ({"id": "w", "start": _start_nothing, "shutdown": math.inf}, "child 'w'.*'shutdown'.*inf"),
    ({"id": "w", "start": _start_nothing, "shutdown": "never"}, "child 'w'.*'shutdown'.*'never'"),
    ({"id": "w", "start": _start_nothing, "type": "manager"}, "child 'w'.*'type'.*'manager'"),
    ({"id": "w", "start": _start_nothing, "restrat": "temporary"}, "child 'w'.*restrat"),
    ({"id": "w", "start": "SupChild.start_link"}, "child 'w'.*'start'.*'SupChild.start_link'"),
    ({"id": "w"}, "child 'w'.*missing field 'start'"),
    ({"start": _start_nothing}, "missing field 'id'"),
], ids=lambda v: next(iter(set(v) - {"id", "start"}), "start" if "id" in v else "id") if isinstance(v, dict) else "")
def test_a_malformed_child_spec_is_refused_before_anything_starts(spec, culprit):
    gs.self()
    before = gs.processes()
    with pytest.raises(gs.ChildSpecError, match=culprit):
        gs.Supervisor.start_link([SupChild, spec])
    assert gs.processes() == before
    sup = gs.DynamicSupervisor.start_link()
    with pytest.raises(gs.ChildSpecError, match=culprit):
        gs.DynamicSupervisor.start_child(sup, spec)
    assert gs.DynamicSupervisor.which_children(sup) == []


def test_duplicate_child_ids():
    with pytest.raises(gs.ChildSpecError, match="duplicate child id 'w'"):
        gs.Supervisor.start_link([gs.child_spec(SupChild, id="w"), gs.child_spec((SupChild, 2), id="w")])
    with pytest.raises(gs.ChildSpecError, match="duplicate child id .*SupChild"):
        gs.Supervisor.start_link([SupChild, (SupChild, 2)])


def test_children_that_are_not_a_list():
    with pytest.raises(gs.ChildSpecError, match="children must be a list.*'SupChild'"):
        gs.Supervisor.start_link("SupChild")


def test_a_child_that_is_no_child():
    with pytest.raises(gs.ChildSpecError, match="invalid child 42"):
        gs.Supervisor.start_link([42])
    with pytest.raises(gs.ChildSpecError, match="Echo.*override.*'restrat'"):
        gs.child_spec(Echo, restrat="temporary")


def test_start_link_options_that_do_not_fit():
    class Sub(gs.Supervisor):
        def init(self, arg):
            return gs.supervise([])

    class NoInit(gs.Supervisor):
        pass

    with pytest.raises(TypeError, match="Sub.start_link takes its flags from init"):
        Sub.start_link(None, max_restarts=1)
    with pytest.raises(TypeError, match="NoInit must define init"):
        NoInit.start_link()
    with pytest.raises(TypeError, match="DynamicSupervisor.start_link takes only keyword options"):
        gs.DynamicSupervisor.start_link({"max_children": 3})
    with pytest.raises(TypeError, match="name= must be a string"):
        gs.Supervisor.start_link([], name=42)


def test_supervisor_requests_about_unknown_children(uname):
    sup = gs.Supervisor.start_link([gs.child_spec(SupChild, id="w")])
    for fn in (gs.Supervisor.terminate_child, gs.Supervisor.restart_child, gs.Supervisor.delete_child):
        with pytest.raises(LookupError, match="no child with id 'nope'"):
            fn(sup, "nope")
    dyn = gs.DynamicSupervisor.start_link()
    stranger = gs.spawn(gs.receive)
    with pytest.raises(LookupError, match=f"{stranger!r} is not a child"):
        gs.DynamicSupervisor.terminate_child(dyn, stranger)
    gs.exit(stranger, "kill")


def test_supervisor_requests_that_conflict_with_a_running_child():
    sup = gs.Supervisor.start_link([gs.child_spec(SupChild, id="w")])
    pid = gs.Supervisor.which_children(sup)[0][1]
    with pytest.raises(gs.StartError, match="already started") as info:
        gs.Supervisor.start_child(sup, gs.child_spec(SupChild, id="w"))
    assert info.value.reason == ("already_started", pid)
    with pytest.raises(gs.StartError, match="'w' is running") as info:
        gs.Supervisor.restart_child(sup, "w")
    with pytest.raises(RuntimeError, match="'w' is running; terminate_child it before delete_child"):
        gs.Supervisor.delete_child(sup, "w")
    gs.Supervisor.terminate_child(sup, "w")
    with pytest.raises(gs.StartError, match="already present") as info:
        gs.Supervisor.start_child(sup, gs.child_spec(SupChild, id="w"))
    assert info.value.reason == ("already_present", "w")


def test_supervisor_requests_to_no_supervisor(uname):
    name = uname("none")
    with pytest.raises(gs.NoProc, match=name):
        gs.Supervisor.which_children(name)
    with pytest.raises(gs.NoProc, match=name):
        gs.DynamicSupervisor.start_child(name, SupChild)


def test_dynamic_supervisor_past_max_children():
    sup = gs.DynamicSupervisor.start_link(max_children=1)
    gs.DynamicSupervisor.start_child(sup, SupChild)
    with pytest.raises(gs.StartError, match=r"max_children \(1\)") as info:
        gs.DynamicSupervisor.start_child(sup, SupChild)
    assert info.value.reason == "max_children"


# == Reliability catalogue: Registry, TaskSupervisor, tracing, pictures, gs.testing, grading ==================
# (issue 9) Each row is one wrong use, the exception it must raise, and words of its message that name
# the culprit. The environment gives each row running registries and a task supervisor to misuse.

class _Env:
    def __init__(self, uname):
        self.ureg, self.dreg, self.tasks = uname("ureg"), uname("dreg"), uname("tasks")
        gs.Registry.start("unique", name=self.ureg)
        gs.Registry.start("duplicate", name=self.dreg)
        gs.TaskSupervisor.start(name=self.tasks, max_children=1)
        gs.Registry.register(self.ureg, "taken")
        self.plain = gs.spawn(gs.receive)
        with gs.trace() as t:
            gs.call(Echo.start(), "traced")
        self.trace = t


def _fill_and_start_one_more(env):
    gs.TaskSupervisor.async_nolink(env.tasks, gs.receive)
    gs.TaskSupervisor.async_nolink(env.tasks, gs.receive)


def _raised_in_a_process(fn):
    raise in_process(fn)


def _start_twice(env):
    t = gs.trace()
    t.start()
    try:
        t.start()
    finally:
        t.stop()


_R = gs.Registry
_CATALOGUE = [
    # Registry: options
    ("registry keys", lambda e: _R.start_link("many", name="r"),
     ValueError, "keys= must be 'unique' or 'duplicate', got 'many'"),
    ("registry no name", lambda e: _R.start_link("unique"), ValueError, "needs name="),
    ("registry name not str", lambda e: _R.start_link("unique", name=5),
     TypeError, "name= must be a non-empty string, got 5"),
    ("registry partitions", lambda e: _R.start_link("unique", name="r", partitions=0),
     ValueError, "partitions= must be a positive int, got 0"),
    ("registry name taken", lambda e: _R.start(name=e.ureg), gs.StartError, "already_started"),
    ("registry spec not dict", lambda e: _R.child_spec("reg"),
     gs.ChildSpecError, "child Registry: needs an options dict.*got 'reg'"),
    ("registry spec option", lambda e: _R.child_spec({"name": "r", "kyes": "unique"}),
     gs.ChildSpecError, r"unknown option\(s\) \['kyes'\]"),
    # Registry: calls
    ("registry unknown", lambda e: _R.register("no-such-registry", "k"),
     gs.NoProc, "Registry.register: no registry is running as 'no-such-registry'"),
    ("via name, no registry", lambda e: Echo.start_link(name=("via", _R, ("no-such-registry", "k"))),
     gs.StartError, r"named \('via', <class '.*Registry'>, \('no-such-registry', 'k'\)\).*'noproc'"),
    ("registry not a name", lambda e: _R.lookup(42, "k"),
     TypeError, r"Registry.lookup needs a registry's name \(str\) or pid, got 42"),
    ("registry unhashable key", lambda e: _R.register(e.ureg, ["k"]),
     TypeError, r"Registry.register: a key must be hashable.*got \['k'\]"),
    ("registry key taken", lambda e: _raised_in_a_process(lambda: _R.register(e.ureg, "taken")),
     gs.AlreadyRegistered, "key 'taken' is already registered by <0"),
    ("registry keys of non-pid", lambda e: _R.keys(e.ureg, "me"), TypeError, "Registry.keys needs a Pid, got 'me'"),
    ("registry values of non-pid", lambda e: _R.values(e.ureg, "k", "me"),
     TypeError, "Registry.values needs a Pid, got 'me'"),
    ("registry select where", lambda e: _R.select(e.ureg, 42),
     TypeError, r"where= must be fn\(key, pid, value\) -> bool or None, got 42"),
    ("registry dispatch fn", lambda e: _R.dispatch(e.dreg, "k", 42),
     TypeError, "Registry.dispatch needs a function of the entries, got 42"),
    ("registry update fn", lambda e: _R.update_value(e.ureg, "taken", 42),
     TypeError, "update_value needs a function of the old value, got 42"),
    ("registry update duplicate", lambda e: _R.update_value(e.dreg, "k", abs),
     ValueError, "only on unique registries.*has duplicate keys"),
    ("registry update not held", lambda e: _R.update_value(e.ureg, "zz", abs),
     KeyError, "does not hold key 'zz' in registry"),
    ("via in duplicate registry", lambda e: Echo.start(name=("via", _R, (e.dreg, "k"))),
     gs.StartError, "via names need a unique registry.*has duplicate keys"),
    ("via name shape", lambda e: gs.whereis(("via", _R, "just-a-key")),
     TypeError, r"a via name is \('via', gs.Registry, \(registry, key\)\).*got 'just-a-key'"),
    ("via send to nobody", lambda e: gs.send(("via", _R, (e.ureg, "nobody")), "x"),
     gs.NoProc, "cannot send to key 'nobody' in registry"),
    # TaskSupervisor
    ("task sup fn", lambda e: gs.TaskSupervisor.async_nolink(e.tasks, 42),
     TypeError, "a task needs a callable, got 42"),
    ("task sup child fn", lambda e: gs.TaskSupervisor.start_child(e.tasks, 42),
     TypeError, "a task needs a callable, got 42"),
    ("task sup unknown", lambda e: gs.TaskSupervisor.async_nolink("no-such-tasks", abs, 1),
     gs.NoProc, "'no-such-tasks'"),
    ("task sup restart", lambda e: gs.TaskSupervisor.start_child(e.tasks, abs, 1, restart="sometimes"),
     gs.ChildSpecError, "field 'restart'.*got 'sometimes'"),
    ("task sup shutdown", lambda e: gs.TaskSupervisor.async_nolink(e.tasks, abs, 1, shutdown=-1),
     gs.ChildSpecError, "field 'shutdown'.*got -1"),
    ("task sup max_children option", lambda e: gs.TaskSupervisor.start_link(max_children=-1),
     ValueError, "max_children must be None.*got -1"),
    ("task sup spec not dict", lambda e: gs.TaskSupervisor.child_spec("tasks"),
     gs.ChildSpecError, "child TaskSupervisor: needs None or an options dict.*got 'tasks'"),
    ("task sup spec option", lambda e: gs.TaskSupervisor.child_spec({"nme": "t"}),
     gs.ChildSpecError, r"unknown option\(s\) \['nme'\]"),
    ("task sup full", _fill_and_start_one_more, gs.StartError, r"max_children \(1\)"),
    ("dynamic sup spec not dict", lambda e: gs.DynamicSupervisor.child_spec("jobs"),
     gs.ChildSpecError, "child DynamicSupervisor: needs None or an options dict.*got 'jobs'"),
    ("dynamic sup spec option", lambda e: gs.DynamicSupervisor.child_spec({"max_kids": 3}),
     gs.ChildSpecError, r"child DynamicSupervisor: unknown option\(s\) \['max_kids'\]"),
    # tracing
    ("trace limit", lambda e: gs.trace(limit=0), ValueError, "limit must be a positive int.*got 0"),
    ("trace only empty", lambda e: gs.trace(only=[]), ValueError, "only= is empty"),
    ("trace only not pids", lambda e: gs.trace(only=42),
     TypeError, "only= must be a pid, a registered name, or an iterable of them, got 42"),
    ("trace only item", lambda e: gs.trace(only=[e.plain, 42]),
     TypeError, "only= takes pids and registered names; 42 is neither"),
    ("trace started twice", _start_twice, RuntimeError, "this trace is already recording"),
    ("trace wait_for", lambda e: e.trace.wait_for(42),
     TypeError, r"wait_for needs a predicate fn\(event\) -> bool, got 42"),
    # pictures
    ("viz unknown name", lambda e: gs.viz.sequence_diagramm,
     AttributeError, "genserver_lite.viz has no attribute 'sequence_diagramm'; it offers"),
    ("viz tree of a non-supervisor", lambda e: gs.viz.supervision_tree(e.plain),
     TypeError, "is not a supervisor.*'receive'"),
    ("viz page 0", lambda e: gs.viz.sequence_diagram(e.trace, page=0),
     ValueError, r"page must be a positive int \(1 is the first page\), got 0"),
    ("viz page past the end", lambda e: gs.viz.sequence_diagram(e.trace, page=99),
     ValueError, r"page 99 does not exist: this trace has 1 page\(s\)"),
    ("viz stepper of nothing", lambda e: gs.viz.TraceStepper(gs.trace()),
     ValueError, "this trace has nothing to step through"),
    # gs.testing
    ("fake clock start", lambda e: FakeClock("zero"),
     TypeError, r"FakeClock\(start=...\) must be a number of seconds, got 'zero'"),
    ("fake clock nan", lambda e: FakeClock(math.nan),
     ValueError, r"FakeClock\(start=...\) must be a finite number of seconds, got nan"),
    ("crash a plain process", lambda e: gs.testing.crash(e.plain),
     TypeError, "crash needs a GenServer.*plain process running 'receive'"),
    ("crash nobody", lambda e: gs.testing.crash("no-such-server"), gs.NoProc, "crash to 'no-such-server' failed"),
    ("wait_until timeout", lambda e: gs.testing.wait_until(bool, -1),
     ValueError, "timeout must not be negative, got -1"),
    # grading
    ("grading unknown exercise", lambda e: gs.grading.check("99.9", {}),
     LookupError, r"no exercise '99.9' \(known: 03.1"),
    ("grading namespace", lambda e: gs.grading.check("03.1", 42),
     TypeError, "exercise 03.1: the namespace must be a mapping such as globals"),
    ("grading get", lambda e: gs.grading.get("3.1"), LookupError, "no exercise '3.1'"),
    ("grading exercise id", lambda e: gs.grading.Exercise("3.1", "t", notebook="03_x", stars=1, minutes=5),
     ValueError, r"an exercise id is 'NN.k' \(e.g. '03.1'\), got '3.1'"),
]


@pytest.mark.parametrize("case, exc, message", [(c[1], c[2], c[3]) for c in _CATALOGUE],
                         ids=[c[0] for c in _CATALOGUE])
def test_reliability_catalogue(case, exc, message, uname):
    env = _Env(uname)
    with pytest.raises(exc, match=message):
        case(env)


@pytest.mark.parametrize("draw", ["sequence_diagram", "sequence_mermaid"])
def test_a_picture_of_something_that_is_not_a_trace(draw):
    with pytest.raises(TypeError, match="42"):
        getattr(gs.viz, draw)(42)
