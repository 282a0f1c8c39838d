"""Task: async_/await_/yield_/await_many/shutdown/start/start_link (Elixir ``Task``).

Behaviours ported from Elixir's ``task_test.exs``: async links and monitors
the owner, the owner gets ``{ref, result}`` then DOWN; await demonitors and
unaliases on timeout; await exits on a task's exit; only the owner may await;
yield returns ok/exit/nil; await_many keeps input order; shutdown returns the
result if it came first, nil for its own shutdown/kill, exit otherwise. The
tests that need an owner that does not trap exits run the owner in a process
(the test thread's shell traps exits).
"""

import logging
import time

import pytest

import genserver_lite as gs
from genserver_lite.testing import assert_receive, refute_receive
from support import LONG, SHORT, down

Task = gs.Task


def in_process(fn):
    """Run ``fn()`` in a process that does not trap exits; ("ok", value) or ("raised", exc)."""
    me = gs.self()

    def body():
        try:
            out = ("ok", fn())
        except Exception as e:  # noqa: BLE001 - reported to the test
            out = ("raised", e)
        gs.send(me, ("in_process", gs.self(), out))
    pid = gs.spawn(body)
    return assert_receive(("in_process", pid, ...), LONG)[2]


def wait_for_go(value="done"):
    gs.receive(lambda m: m == "go")
    return value


def crash(exc):
    raise exc


def dead_task_monitor(task):
    """Wait, through a monitor of our own, until the task's process is gone."""
    ref = gs.monitor(task.pid)
    assert_receive(down(ref, task.pid), LONG)


# -- async_ ------------------------------------------------------------------------------------

def test_async_links_and_monitors_and_sends_ref_result_then_down():
    me = gs.self()
    task = Task.async_(wait_for_go, 42)
    assert isinstance(task.pid, gs.Pid) and isinstance(task.ref, gs.Ref)
    assert task.owner is me
    assert task.pid in gs.info(me)["links"]
    assert task.pid in gs.info(me)["monitors"]
    gs.send(task.pid, "go")
    assert_receive((task.ref, 42), LONG)
    assert_receive(down(task.ref, task.pid, "normal"), LONG)


def test_async_passes_args_and_runs_in_its_own_process():
    task = Task.async_(lambda a, b: (gs.self(), a * b), 6, 7)
    pid, value = Task.await_(task)
    assert pid is task.pid and value == 42


def test_task_info_behaviour_is_task():
    task = Task.async_(wait_for_go)
    assert gs.info(task.pid)["behaviour"] == "Task"
    gs.send(task.pid, "go")
    assert Task.await_(task) == "done"


# -- await_ -------------------------------------------------------------------------------------

def test_await_returns_the_result_and_leaves_nothing_in_the_mailbox():
    def owner():
        task = Task.async_(lambda: "result")
        value = Task.await_(task)
        dead_task_monitor(task)
        return value, gs.flush(), gs.info(gs.self())["monitors"]
    assert in_process(owner) == ("ok", ("result", [], []))


def test_await_reraises_the_task_crash_as_exit(caplog):
    err = ValueError("task failed")
    task = Task.async_(crash, err)
    with pytest.raises(gs.Exit) as info:
        Task.await_(task)
    assert info.value.reason is err
    assert_receive(("EXIT", task.pid, err), LONG)        # the link: the shell traps exits
    assert any(r.levelno == logging.ERROR and "Task" in r.getMessage() for r in caplog.records)


def test_await_exits_with_normal_when_the_task_exits_normal_without_a_result():
    task = Task.async_(crash, gs.Exit("normal"))
    with pytest.raises(gs.Exit) as info:
        Task.await_(task)
    assert info.value.reason == "normal"


def test_await_timeout_raises_call_timeout_and_the_task_runs_on():
    task = Task.async_(wait_for_go)
    with pytest.raises(gs.CallTimeout) as info:
        Task.await_(task, 0.05)
    assert isinstance(info.value, TimeoutError)
    assert gs.alive(task.pid)


def test_a_timed_out_await_demonitors_and_unaliases():
    def owner():
        task = Task.async_(wait_for_go, "late")
        try:
            Task.await_(task, 0.05)
        except gs.CallTimeout:
            pass
        gs.send(task.pid, "go")
        dead_task_monitor(task)
        return gs.flush()
    assert in_process(owner) == ("ok", [])


def test_await_from_a_process_that_is_not_the_owner_raises_runtime_error():
    task = Task.async_(wait_for_go)
    out = in_process(lambda: Task.await_(task, 0.05))
    assert out[0] == "raised"
    assert isinstance(out[1], RuntimeError)
    assert "not the owner" in str(out[1]) and repr(task.owner) in str(out[1])
    gs.send(task.pid, "go")
    assert Task.await_(task) == "done"                    # the owner still can


# -- yield_ --------------------------------------------------------------------------------------

def test_yield_returns_ok_with_the_result():
    task = Task.async_(lambda: 7)
    assert Task.yield_(task) == ("ok", 7)


def test_yield_returns_exit_when_the_task_died():
    task = Task.async_(crash, gs.Exit("oops"))
    assert Task.yield_(task) == ("exit", "oops")


def test_yield_returns_none_on_timeout_and_can_be_called_again():
    task = Task.async_(wait_for_go, "later")
    assert Task.yield_(task, 0.01) is None
    assert gs.alive(task.pid)
    gs.send(task.pid, "go")
    assert Task.yield_(task, LONG) == ("ok", "later")


# -- await_many ------------------------------------------------------------------------------------

def test_await_many_returns_results_in_input_order():
    tasks = [Task.async_(wait_for_go, v) for v in [1, 3, 9]]
    for t in reversed(tasks):
        gs.send(t.pid, "go")
    assert Task.await_many(tasks) == [1, 3, 9]


def test_await_many_of_nothing_is_empty():
    assert Task.await_many([]) == []


def test_await_many_ignores_other_messages():
    def owner():
        me = gs.self()
        other = gs.make_ref()
        tasks = [Task.async_(lambda v=v: v) for v in "ab"]
        gs.send(me, other)
        gs.send(me, (other, "z"))
        results = Task.await_many(tasks)
        return results, gs.flush() == [other, (other, "z")]
    assert in_process(owner) == ("ok", (["a", "b"], True))


def test_await_many_raises_exit_when_a_task_crashes():
    tasks = [Task.async_(lambda: 1), Task.async_(crash, gs.Exit("unknown"))]
    with pytest.raises(gs.Exit) as info:
        Task.await_many(tasks)
    assert info.value.reason == "unknown"


def test_await_many_timeout_leaves_nothing_behind():
    def owner():
        tasks = [Task.async_(lambda: "quick"), Task.async_(wait_for_go), Task.async_(wait_for_go)]
        try:
            Task.await_many(tasks, 0.05)
        except gs.CallTimeout as e:
            timed_out = e
        for t in tasks[1:]:
            gs.send(t.pid, "go")
        for t in tasks:
            dead_task_monitor(t)
        return isinstance(timed_out, TimeoutError), gs.flush()
    assert in_process(owner) == ("ok", (True, []))


# -- shutdown ----------------------------------------------------------------------------------------

def test_shutdown_of_a_running_task_returns_none_and_kills_it():
    task = Task.async_(wait_for_go)
    assert Task.shutdown(task) is None
    assert not gs.alive(task.pid)
    assert task.pid not in gs.info(gs.self())["links"]


def test_shutdown_brutal_kill_of_a_running_task_returns_none():
    task = Task.async_(wait_for_go)
    assert Task.shutdown(task, "brutal_kill") is None
    assert not gs.alive(task.pid)


@pytest.mark.parametrize("how", [5.0, "brutal_kill"])
def test_shutdown_returns_the_result_if_it_came_first(how):
    task = Task.async_(lambda: "finished")
    dead_task_monitor(task)
    assert Task.shutdown(task, how) == ("ok", "finished")
    refute_receive(down(task.ref), 0)


@pytest.mark.parametrize("how", [5.0, "brutal_kill"])
def test_shutdown_returns_exit_for_a_task_that_died_of_something_else(how):
    task = Task.async_(crash, gs.Exit("abnormal"))
    dead_task_monitor(task)
    assert Task.shutdown(task, how) == ("exit", "abnormal")


def test_shutdown_of_a_trapping_task_kills_it_after_the_timeout():
    me = gs.self()

    def stubborn():
        gs.trap_exit(True)
        gs.send(me, "trapping")
        gs.receive(lambda m: m == "never")
    task = Task.async_(stubborn)
    assert_receive("trapping", LONG)
    assert Task.shutdown(task, 0.05) == ("exit", "killed")     # Elixir: {:exit, :killed}
    assert not gs.alive(task.pid)


def test_shutdown_brutal_kill_of_a_trapping_task_returns_none():
    me = gs.self()

    def stubborn():
        gs.trap_exit(True)
        gs.send(me, "trapping")
        gs.receive(lambda m: m == "never")
    task = Task.async_(stubborn)
    assert_receive("trapping", LONG)
    assert Task.shutdown(task, "brutal_kill") is None
    refute_receive(down(task.ref), 0)


@pytest.mark.timeout(30)
def test_shutdown_of_a_task_already_collected_is_exit_noproc_at_once():
    task = Task.async_(crash, gs.Exit("gone"))
    assert Task.yield_(task) == ("exit", "gone")
    t0 = time.monotonic()
    assert Task.shutdown(task, LONG) == ("exit", "noproc")
    assert time.monotonic() - t0 < LONG                 # it did not wait out the timeout


def test_shutdown_leaves_nothing_in_the_mailbox():
    def owner():
        running = Task.async_(wait_for_go)
        finished = Task.async_(lambda: 1)
        dead_task_monitor(finished)
        return Task.shutdown(running), Task.shutdown(finished), gs.flush()
    assert in_process(owner) == ("ok", (None, ("ok", 1), []))


# -- start, start_link ---------------------------------------------------------------------------------

def test_start_runs_the_function_unlinked():
    me = gs.self()
    pid = Task.start(lambda: gs.send(me, ("ran", gs.self())))
    assert isinstance(pid, gs.Pid)
    assert_receive(("ran", pid), LONG)
    assert pid not in gs.info(me)["links"]
    refute_receive(("EXIT", pid, ...), SHORT)


def test_start_link_runs_the_function_linked():
    me = gs.self()
    pid = Task.start_link(wait_for_go)
    assert pid in gs.info(me)["links"]
    gs.send(pid, "go")
    assert_receive(("EXIT", pid, "normal"), LONG)


# -- the pitfall: a GenServer that starts a task and does not trap exits ---------------------------------

class Spawner(gs.GenServer):
    """Starts a crashing task; its DOWN clause reports to ``notify`` (if it ever runs)."""

    def init(self, arg):
        notify, trap = arg
        if trap:
            gs.trap_exit(True)
        return ("ok", notify)

    def handle_cast(self, request, notify):
        Task.async_(crash, gs.Exit("task_crashed"))
        return ("noreply", notify)

    def handle_info(self, msg, notify):
        match msg:
            case ("DOWN", _, "process", _, reason):
                gs.send(notify, ("down_clause_ran", reason))
        return ("noreply", notify)


def test_a_crashing_task_kills_a_genserver_that_does_not_trap_exits():
    pid = Spawner.start((gs.self(), False))
    ref = gs.monitor(pid)
    gs.cast(pid, "start task")
    assert_receive(down(ref, pid, "task_crashed"), LONG)
    refute_receive(("down_clause_ran", ...), SHORT)


def test_a_trapping_genserver_survives_and_its_down_clause_runs():
    pid = Spawner.start((gs.self(), True))
    gs.cast(pid, "start task")
    assert_receive(("down_clause_ran", "task_crashed"), LONG)
    assert gs.alive(pid)
