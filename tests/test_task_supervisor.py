"""gs.TaskSupervisor: tasks under a supervisor, owned by their caller but not linked to it.

Ported from the behaviours of Elixir's ``task/supervisor_test.exs``, plus the
course's key case: a GenServer that starts a task with ``async_nolink``
survives the task's crash and handles its DOWN, one that used
``gs.Task.async_`` dies with it.
"""

import pytest

import genserver_lite as gs
from genserver_lite.registry import Registry
from genserver_lite.task_supervisor import TaskSupervisor, _monitor_as
from genserver_lite import _kernel
from genserver_lite.testing import assert_receive, refute_receive


@pytest.fixture
def sup():
    return TaskSupervisor.start_link()


def wait_and_send(caller, msg):
    """Tell the caller we run, wait for True, then send ``msg`` and return it."""
    gs.send(caller, ("ready", gs.self()))
    gs.receive(lambda m: m is True)
    gs.send(caller, msg)
    return msg


def crash(why="boom"):
    raise RuntimeError(why)


def is_down(ref):
    return lambda m: type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is ref


# -- the supervisor itself ---------------------------------------------------------

def test_can_be_supervised_directly(uname):
    name = uname("tasks")
    top = gs.Supervisor.start_link([(TaskSupervisor, {"name": name})])
    pid = gs.whereis(name)
    assert gs.alive(pid)
    assert gs.Supervisor.which_children(top)[0][:2] == (name, pid)
    assert TaskSupervisor.children(name) == []
    assert gs.info(pid)["module"] == "TaskSupervisor"


def test_several_task_supervisors_are_told_apart_by_name(uname):
    reg = uname("reg")
    Registry.start("unique", name=reg)
    simple, via = uname("simple"), ("via", Registry, (reg, "via_name"))
    top = gs.Supervisor.start_link([(TaskSupervisor, {"name": simple}),
                                    (TaskSupervisor, {"name": via})])
    unnamed = gs.Supervisor.start_child(top, TaskSupervisor)
    assert TaskSupervisor.children(simple) == []
    assert TaskSupervisor.children(via) == []
    assert TaskSupervisor.children(unnamed) == []
    with pytest.raises(gs.StartError) as e:
        gs.Supervisor.start_child(top, TaskSupervisor)
    assert e.value.reason == ("already_started", unnamed)
    task = TaskSupervisor.async_nolink(via, lambda: "via works")
    assert gs.Task.await_(task) == "via works"


def test_counts_and_returns_children(sup):
    assert TaskSupervisor.children(sup) == []
    assert TaskSupervisor.count_children(sup) == {"specs": 0, "active": 0, "supervisors": 0,
                                                  "workers": 0}
    t = TaskSupervisor.async_nolink(sup, gs.receive)
    p = TaskSupervisor.start_child(sup, gs.receive)
    assert sorted(TaskSupervisor.children(sup)) == sorted([t.pid, p])
    assert TaskSupervisor.count_children(sup) == {"specs": 2, "active": 2, "supervisors": 0,
                                                  "workers": 2}


# -- async_nolink ---------------------------------------------------------------------

def test_async_nolink_spawns_under_the_supervisor_without_linking(sup):
    me = gs.self()
    task = TaskSupervisor.async_nolink(sup, wait_and_send, me, "done")
    assert isinstance(task, gs.Task)
    assert task.owner is me and isinstance(task.ref, gs.Ref)
    assert TaskSupervisor.children(sup) == [task.pid]
    assert task.pid not in gs.info(me)["links"]
    info = gs.info(task.pid)
    assert info["links"] == [sup] and info["parent"] is sup and info["behaviour"] == "Task"
    assert me in info["monitored_by"]
    assert_receive(("ready", task.pid), timeout=2.0)
    gs.send(task.pid, True)
    assert_receive((task.ref, "done"), timeout=2.0)
    assert_receive(("DOWN", task.ref, "process", task.pid, "normal"), timeout=2.0)
    assert TaskSupervisor.children(sup) == []     # temporary: forgotten once done


def test_async_nolink_await_and_yield(sup):
    assert gs.Task.await_(TaskSupervisor.async_nolink(sup, pow, 2, 10)) == 1024
    assert gs.Task.yield_(TaskSupervisor.async_nolink(sup, lambda: "x")) == ("ok", "x")
    slow = TaskSupervisor.async_nolink(sup, gs.receive)
    assert gs.Task.yield_(slow, 0.01) is None
    assert gs.Task.shutdown(slow) is None
    assert not gs.alive(slow.pid)
    refute_receive(timeout=0.02)
    assert TaskSupervisor.children(sup) == []


def test_a_crashing_task_does_not_kill_its_caller(sup):
    parent = gs.self()

    def caller():      # a plain process: it does not trap exits
        task = TaskSupervisor.async_nolink(sup, crash, "boom")
        down = gs.receive(is_down(task.ref), timeout=2.0)
        gs.send(parent, ("caller got", down[4]))
        gs.receive()

    pid = gs.spawn(caller)
    got = assert_receive(("caller got", ...), timeout=2.0)
    assert isinstance(got[1], RuntimeError) and str(got[1]) == "boom"
    assert gs.alive(pid) and gs.alive(sup)


def test_await_raises_the_tasks_exit_and_the_caller_lives(sup):
    with pytest.raises(gs.Exit) as e:
        gs.Task.await_(TaskSupervisor.async_nolink(sup, crash, "oops"))
    assert isinstance(e.value.reason, RuntimeError) and str(e.value.reason) == "oops"

    def leave():
        raise gs.Exit("unknown")
    with pytest.raises(gs.Exit) as e:
        gs.Task.await_(TaskSupervisor.async_nolink(sup, leave))
    assert e.value.reason == "unknown"
    assert gs.Task.yield_(TaskSupervisor.async_nolink(sup, leave)) == ("exit", "unknown")
    refute_receive(timeout=0.02)     # no stray DOWN or EXIT: nothing was linked


def test_await_timeout_demonitors_and_drops_the_late_result(sup):
    task = TaskSupervisor.async_nolink(sup, lambda: (gs.receive(lambda m: m == "go"), "done")[1])
    with pytest.raises(gs.CallTimeout):
        gs.Task.await_(task, 0)
    new_ref = gs.monitor(task.pid)
    gs.send(task.pid, "go")
    assert_receive(("DOWN", new_ref, "process", task.pid, "normal"), timeout=2.0)
    refute_receive((task.ref, ...), timeout=0.02)
    refute_receive(("DOWN", task.ref, "process", task.pid, ...), timeout=0.0)


def test_only_the_owner_may_await(sup):
    task = TaskSupervisor.async_nolink(sup, gs.receive)
    parent = gs.self()

    def stranger():
        try:
            gs.Task.await_(task, 0.5)
        except RuntimeError as e:
            gs.send(parent, ("refused", str(e)))
    gs.spawn(stranger)
    _, why = assert_receive(("refused", ...), timeout=2.0)
    assert "not the owner" in why


def test_the_task_outlives_a_dead_owner(sup):
    parent = gs.self()

    def owner():
        task = TaskSupervisor.async_nolink(sup, gs.receive)
        gs.send(parent, ("task", task.pid))
        raise gs.Exit("owner crash")

    owner_pid, ref = gs.spawn_monitor(owner)
    _, pid = assert_receive(("task", ...), timeout=2.0)
    assert_receive(("DOWN", ref, "process", owner_pid, "owner crash"), timeout=2.0)
    assert gs.alive(pid)
    assert TaskSupervisor.children(sup) == [pid]


def test_a_task_that_finishes_before_the_monitor_still_reports_its_real_reason():
    victim, ref = gs.spawn_monitor(crash, "early")
    down = assert_receive(("DOWN", ref, "process", victim, ...), timeout=2.0)
    me = _kernel.current()
    late = gs.make_ref()
    _monitor_as(me, victim._proc, late)
    assert assert_receive(("DOWN", late, "process", victim, ...))[4] is down[4]
    alive = gs.spawn(gs.receive)
    _monitor_as(me, alive._proc, late2 := gs.make_ref())
    gs.exit(alive, "bye")
    assert_receive(("DOWN", late2, "process", alive, "bye"))


def test_nested_tasks_under_one_supervisor(sup):
    def outer():
        inner = TaskSupervisor.async_nolink(sup, lambda: ("inner", gs.self()))
        got = gs.Task.await_(inner)
        return ("outer", got[0], inner.owner is gs.self())
    assert gs.Task.await_(TaskSupervisor.async_nolink(sup, outer)) == ("outer", "inner", True)


# -- shutdown, limits --------------------------------------------------------------------

@pytest.mark.parametrize("shutdown, reason", [(5.0, "shutdown"), ("brutal_kill", "killed")])
def test_supervisor_shutdown_stops_running_tasks(sup, shutdown, reason):
    task = TaskSupervisor.async_nolink(sup, gs.receive, shutdown=shutdown)
    fire = TaskSupervisor.start_child(sup, gs.receive, shutdown=shutdown)
    fref = gs.monitor(fire)
    gs.exit(sup, "shutdown")
    assert_receive(("DOWN", task.ref, "process", task.pid, reason), timeout=2.0)
    assert_receive(("DOWN", fref, "process", fire, reason), timeout=2.0)


def test_a_task_that_ignores_shutdown_is_killed_on_time(sup):
    parent = gs.self()

    def stubborn():
        gs.trap_exit(True)
        gs.send(parent, "trapping")
        while True:
            gs.receive()

    task = TaskSupervisor.async_nolink(sup, stubborn, shutdown=0.05)
    assert_receive("trapping", timeout=2.0)
    ref = gs.monitor(sup)
    gs.exit(sup, "shutdown")
    assert_receive(("DOWN", task.ref, "process", task.pid, "killed"), timeout=2.0)
    assert_receive(("DOWN", ref, "process", sup, "shutdown"), timeout=2.0)


def test_max_children():
    sup = TaskSupervisor.start_link(max_children=1)
    first = TaskSupervisor.async_nolink(sup, gs.receive)
    with pytest.raises(gs.StartError) as e:
        TaskSupervisor.async_nolink(sup, lambda: "never")
    assert e.value.reason == "max_children"
    with pytest.raises(gs.StartError):
        TaskSupervisor.start_child(sup, lambda: "never")
    assert len(TaskSupervisor.children(sup)) == 1
    assert set(_kernel.current().aliases) == {first.ref}, "a refused task left a reply alias behind"
    refute_receive(timeout=0.02)


# -- start_child ---------------------------------------------------------------------------

def test_start_child_runs_a_task_nobody_awaits(sup):
    me = gs.self()
    pid = TaskSupervisor.start_child(sup, wait_and_send, me, "done")
    assert type(pid) is gs.Pid
    assert TaskSupervisor.children(sup) == [pid]
    assert pid not in gs.info(me)["links"]
    assert gs.info(pid)["links"] == [sup]
    assert_receive(("ready", pid), timeout=2.0)
    gs.send(pid, True)
    assert_receive("done", timeout=2.0)
    refute_receive(timeout=0.02)        # no result message, no DOWN: nobody monitors it


def test_start_child_with_permanent_restart(sup):
    me = gs.self()
    pid = TaskSupervisor.start_child(sup, wait_and_send, me, "done", restart="permanent")
    assert_receive(("ready", pid), timeout=2.0)
    ref = gs.monitor(pid)
    gs.exit(pid, "shutdown")
    assert_receive(("DOWN", ref, "process", pid, "shutdown"), timeout=2.0)
    _, again = assert_receive(("ready", ...), timeout=2.0)
    assert again is not pid
    assert TaskSupervisor.children(sup) == [again]


def test_start_child_with_transient_restart(sup):
    parent = gs.self()

    def once(outcome):
        gs.send(parent, ("ran", gs.self()))
        gs.receive(lambda m: m == "go")
        if outcome == "crash":
            crash("transient crash")

    normal = TaskSupervisor.start_child(sup, once, "normal", restart="transient")
    assert_receive(("ran", normal), timeout=2.0)
    gs.send(normal, "go")
    gs.testing.wait_until(lambda: TaskSupervisor.children(sup) == [])
    refute_receive(("ran", ...), timeout=0.05)

    crasher = TaskSupervisor.start_child(sup, once, "crash", restart="transient")
    assert_receive(("ran", crasher), timeout=2.0)
    gs.send(crasher, "go")
    _, again = assert_receive(("ran", ...), timeout=2.0)
    assert again is not crasher
    assert TaskSupervisor.children(sup) == [again]


def test_terminate_child(sup):
    pid = TaskSupervisor.start_child(sup, wait_and_send, gs.self(), "done")
    assert TaskSupervisor.children(sup) == [pid]
    assert TaskSupervisor.terminate_child(sup, pid) is None
    assert TaskSupervisor.children(sup) == []
    assert not gs.alive(pid)
    with pytest.raises(LookupError):
        TaskSupervisor.terminate_child(sup, pid)


# -- the course's key case: a GenServer and the task it starts ---------------------------

class Worker(gs.GenServer):
    """Starts a job as a task and handles how it ends, as the source's TimeoutServer tries to."""

    def init(self, how):
        return ("ok", {"how": how, "task": None, "result": None, "down": None})

    def handle_call(self, request, from_, state):
        match request:
            case ("run", sup, fn):
                if state["how"] == "nolink":
                    task = TaskSupervisor.async_nolink(sup, fn)
                else:
                    task = gs.Task.async_(fn)
                return ("reply", task, {**state, "task": task})
            case "state":
                return ("reply", state, state)

    def handle_info(self, msg, state):
        task = state["task"]
        match msg:
            case (ref, result) if task is not None and ref is task.ref:
                gs.demonitor(ref, flush=True)
                return ("noreply", {**state, "result": result, "task": None})
            case ("DOWN", ref, "process", _pid, reason) if task is not None and ref is task.ref:
                return ("noreply", {**state, "down": reason, "task": None})
        return ("noreply", state)


def crash_on_go():
    gs.receive(lambda m: m == "go")
    crash("task failed")


def test_a_genserver_survives_its_async_nolink_task_crashing(sup):
    server = Worker.start("nolink")
    task = gs.call(server, ("run", sup, crash_on_go))
    assert task.owner is server
    gs.send(task.pid, "go")
    gs.testing.wait_until(lambda: gs.sys.get_state(server)["down"] is not None, timeout=2.0)
    state = gs.sys.get_state(server)
    assert isinstance(state["down"], RuntimeError) and str(state["down"]) == "task failed"
    assert state["result"] is None and state["task"] is None
    assert gs.alive(server) and not gs.alive(task.pid)
    assert gs.alive(sup)


def test_handled_task_crashes_leave_no_reply_alias_behind(sup):
    # OTP deactivates a task's alias with its monitor: a server that handles
    # the DOWN of crashed tasks for days must not accumulate dead aliases
    server = Worker.start("nolink")
    for i in range(5):
        task = gs.call(server, ("run", sup, crash_on_go))
        gs.send(task.pid, "go")
        gs.testing.wait_until(lambda: gs.sys.get_state(server)["task"] is None, timeout=2.0)
    assert isinstance(gs.sys.get_state(server)["down"], RuntimeError)
    assert server._proc.aliases == {}


def test_a_genserver_using_task_async_dies_with_its_task(sup):
    server = Worker.start("linked")
    ref = gs.monitor(server)
    task = gs.call(server, ("run", sup, crash_on_go))
    assert task.owner is server
    gs.send(task.pid, "go")
    down = assert_receive(("DOWN", ref, "process", server, ...), timeout=2.0)
    assert isinstance(down[4], RuntimeError) and str(down[4]) == "task failed"
    assert not gs.alive(server)


def test_a_genserver_gets_the_result_and_no_down_after_flushing(sup):
    server = Worker.start("nolink")
    gs.call(server, ("run", sup, lambda: 6 * 7))
    gs.testing.wait_until(lambda: gs.sys.get_state(server)["result"] is not None, timeout=2.0)
    state = gs.sys.get_state(server)
    assert state["result"] == 42 and state["down"] is None


# -- bad input (tests/test_bad_input.py did not exist when this was written) --------------

def test_bad_task_supervisor_input(sup, uname):
    with pytest.raises(TypeError, match="callable"):
        TaskSupervisor.async_nolink(sup, "not callable")
    with pytest.raises(TypeError, match="callable"):
        TaskSupervisor.start_child(sup, 42)
    with pytest.raises(ValueError, match="infinity"):
        TaskSupervisor.async_nolink(sup, gs.receive, shutdown="infinity")
    with pytest.raises(gs.ChildSpecError, match="shutdown"):
        TaskSupervisor.start_child(sup, gs.receive, shutdown=-1)
    with pytest.raises(gs.ChildSpecError, match="restart"):
        TaskSupervisor.start_child(sup, gs.receive, restart="sometimes")
    with pytest.raises(ValueError, match="max_children"):
        TaskSupervisor.start_link(max_children=-1)
    with pytest.raises(gs.ChildSpecError, match="unknown option"):
        TaskSupervisor.child_spec({"nmae": "x"})
    with pytest.raises(gs.NoProc):
        TaskSupervisor.async_nolink(uname("nothing"), gs.receive)
    with pytest.raises(gs.NoProc):
        TaskSupervisor.children(uname("nothing"))
    assert TaskSupervisor.children(sup) == []
    refute_receive(timeout=0.02)
