"""DynamicSupervisor: children started on demand, max_children, extra_arguments, restarts, shutdown.

Behaviours ported from Elixir's ``dynamic_supervisor_test.exs`` (start_child
with its returns, restart types, "child is restarted with different
values", max_children with restarting children, trying again, maximum
intensity, terminate/2 with every shutdown kind, terminate_child/2) and OTP's
``supervisor_SUITE.erl`` simple_one_for_one cases, written for this library.
"""

import itertools
import time

import pytest

import genserver_lite as gs
from genserver_lite.testing import assert_receive, refute_receive
from support import LONG, SHORT

DS = gs.DynamicSupervisor


class Sleepy(gs.GenServer):
    """A worker that idles; with ``trap`` it traps exits and reports terminate; with ``hang`` it blocks there."""

    def init(self, opts):
        opts = dict(opts or {})
        if opts.get("trap"):
            gs.trap_exit(True)
        if opts.get("to") is not None:
            gs.send(opts["to"], ("ready", opts.get("tag"), gs.self()))
        return ("ok", opts)

    def handle_call(self, request, from_, state):
        match request:
            case "ping":
                return ("reply", ("pong", state.get("tag")), state)
            case ("exit", reason):
                return ("stop", reason, "ok", state)

    def terminate(self, reason, state):
        if state.get("to") is not None:
            gs.send(state["to"], ("terminate", state.get("tag"), gs.self(), reason))
        if state.get("hang"):
            gs.receive(lambda m: m == "release")
        if state.get("exit_with") is not None:
            raise gs.Exit(state["exit_with"])


def sleepy(tag=None, **opts):
    fields = {k: opts.pop(k) for k in ("restart", "shutdown", "type") if k in opts}
    return gs.child_spec((Sleepy, {"tag": tag, **opts}), **fields)


def worker(*script, **fields):
    """A child whose start function follows ``script`` on each call, then repeats its last step.

    Steps: "ok" (start a Sleepy), "ignore" (return None), "error" (raise),
    ("stop", r) (its init stops with r), "bad" (return 42).
    """
    steps = itertools.chain(script, itertools.repeat(script[-1]))

    def start(*extra):
        match next(steps):
            case "ok":
                return Sleepy.start_link({"extra": extra})
            case "ignore":
                return None
            case "error":
                raise RuntimeError("start failed on purpose")
            case ("stop", reason):
                return _Stopper.start_link(reason)
            case "bad":
                return 42
    return gs.child_spec({"id": "w", "start": start, "modules": ["Worker"]}, **fields)


class _Stopper(gs.GenServer):
    def init(self, reason):
        return ("stop", reason)


def counts(sup):
    c = DS.count_children(sup)
    return (c["specs"], c["active"], c["supervisors"], c["workers"])


def kill_with(pid, reason, sup=None):
    """Elixir's assert_kill: exit signal ``reason`` to the child, wait for its DOWN; then a barrier call."""
    ref = gs.monitor(pid)
    gs.exit(pid, reason)
    assert_receive(("DOWN", ref, "process", pid, ...), LONG)
    if sup is not None:
        DS.count_children(sup)


# -- starting ---------------------------------------------------------------------------------

def test_start_link_with_defaults_and_a_name(uname):
    name = uname("dyn")
    sup = DS.start_link(name=name)
    assert gs.whereis(name) is sup
    assert sup in gs.info(gs.self())["links"]
    assert DS.which_children(name) == []
    assert DS.count_children(name) == {"specs": 0, "active": 0, "supervisors": 0, "workers": 0}
    d = DS.describe(sup)
    assert (d["kind"], d["strategy"], d["max_restarts"], d["max_seconds"]) == ("DynamicSupervisor", "one_for_one", 3, 5.0)
    assert gs.info(sup)["behaviour"] == "DynamicSupervisor"
    gs.stop(name, "shutdown")


def test_start_child_takes_every_form_and_lists_children_without_ids():
    sup = DS.start_link()
    a = DS.start_child(sup, Sleepy)
    b = DS.start_child(sup, (Sleepy, {"tag": "b"}))
    c = DS.start_child(sup, {"id": "whatever", "start": (Sleepy.start_link, [{"tag": "c"}])})
    assert all(type(p) is gs.Pid and gs.alive(p) for p in (a, b, c))
    assert gs.call(b, "ping") == ("pong", "b")
    assert DS.which_children(sup) == [("undefined", a, "worker", ["Sleepy"]),
                                      ("undefined", b, "worker", ["Sleepy"]),
                                      ("undefined", c, "worker", ["Sleepy"])]
    assert counts(sup) == (3, 3, 0, 3)
    for pid in (a, b, c):
        assert sup in gs.info(pid)["links"]


def test_the_same_spec_can_be_started_many_times():
    sup = DS.start_link()
    pids = [DS.start_child(sup, sleepy("same")) for _ in range(5)]
    assert len(set(pids)) == 5
    assert counts(sup) == (5, 5, 0, 5)


def test_start_child_returns():
    sup = DS.start_link()
    assert type(DS.start_child(sup, worker("ok"))) is gs.Pid
    assert DS.start_child(sup, worker("ignore")) is None
    with pytest.raises(gs.StartError) as err:
        DS.start_child(sup, worker(("stop", "found")))
    assert err.value.reason == "found"
    with pytest.raises(gs.StartError) as err:
        DS.start_child(sup, worker("error"))
    assert isinstance(err.value.reason, RuntimeError)
    with pytest.raises(gs.StartError) as err:
        DS.start_child(sup, worker("bad"))
    assert err.value.reason == ("bad_start_return", 42)
    assert counts(sup) == (1, 1, 0, 1)          # only the one that started is kept


def test_start_child_with_an_exit_in_the_start_function():
    def start():
        raise gs.Exit("oops")

    sup = DS.start_link()
    with pytest.raises(gs.StartError) as err:
        DS.start_child(sup, {"id": "x", "start": start})
    assert err.value.reason == "oops"


def test_extra_arguments_are_put_in_front_on_start_and_restart():
    me = gs.self()

    def start(to, tag, label):
        gs.send(to, ("from_child", tag, label))
        return Sleepy.start_link({"tag": label})

    sup = DS.start_link(extra_arguments=(me, "extra"))
    pid = DS.start_child(sup, {"id": "t", "start": (start, ["mine"]), "restart": "transient"})
    assert_receive(("from_child", "extra", "mine"), LONG)
    kill_with(pid, "oops", sup)
    assert_receive(("from_child", "extra", "mine"), LONG)
    assert counts(sup) == (1, 1, 0, 1)


def test_a_supervisor_child_is_counted_as_one():
    sup = DS.start_link()
    inner = DS.start_child(sup, gs.DynamicSupervisor)
    DS.start_child(sup, Sleepy)
    assert DS.which_children(sup)[0] == ("undefined", inner, "supervisor", ["DynamicSupervisor"])
    assert counts(sup) == (2, 2, 1, 1)


# -- max_children -------------------------------------------------------------------------------

def test_max_children():
    sup = DS.start_link(max_children=2)
    first = DS.start_child(sup, Sleepy)
    DS.start_child(sup, Sleepy)
    with pytest.raises(gs.StartError) as err:
        DS.start_child(sup, Sleepy)
    assert err.value.reason == "max_children"
    assert "2" in str(err.value)
    DS.terminate_child(sup, first)
    assert gs.alive(DS.start_child(sup, Sleepy))


def test_max_children_zero():
    sup = DS.start_link(max_children=0)
    with pytest.raises(gs.StartError) as err:
        DS.start_child(sup, Sleepy)
    assert err.value.reason == "max_children"


def test_a_child_being_restarted_counts_in_max_children():
    sup = DS.start_link(max_children=1, max_restarts=10 ** 9)
    pid = DS.start_child(sup, worker("ok", "error"))
    kill_with(pid, "shutdown", sup)              # its restart keeps failing: it is "restarting"
    assert counts(sup) == (1, 0, 0, 1)
    with pytest.raises(gs.StartError) as err:
        DS.start_child(sup, Sleepy)
    assert err.value.reason == "max_children"
    DS.terminate_child(sup, pid)


def test_a_restarted_child_counts_in_max_children():
    sup = DS.start_link(max_children=1, max_restarts=100)
    pid = DS.start_child(sup, Sleepy)
    kill_with(pid, "shutdown", sup)
    assert counts(sup) == (1, 1, 0, 1)
    with pytest.raises(gs.StartError):
        DS.start_child(sup, Sleepy)


# -- restart types ----------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["shutdown", ("shutdown", "signal"), "whatever", "kill"], ids=str)
def test_a_temporary_child_is_never_restarted(reason):
    sup = DS.start_link()
    pid = DS.start_child(sup, sleepy(restart="temporary"))
    kill_with(pid, reason, sup)
    assert counts(sup) == (0, 0, 0, 0)


def test_a_transient_child_is_restarted_unless_normal_or_shutdown():
    sup = DS.start_link()
    for reason in ("shutdown", ("shutdown", "signal")):
        kill_with(DS.start_child(sup, sleepy(restart="transient")), reason, sup)
        assert counts(sup) == (0, 0, 0, 0)
    pid = DS.start_child(sup, sleepy(restart="transient"))
    assert gs.call(pid, ("exit", "normal")) == "ok"
    kill_with(pid, "normal", sup)                # already gone: waits for the DOWN, then a barrier
    assert counts(sup) == (0, 0, 0, 0)
    kill_with(DS.start_child(sup, sleepy(restart="transient")), "whatever", sup)
    assert counts(sup) == (1, 1, 0, 1)


def test_a_permanent_child_is_restarted_regardless_of_reason():
    sup = DS.start_link(max_restarts=100)
    for n, reason in enumerate(["shutdown", ("shutdown", "signal"), "whatever"], start=1):
        pid = DS.start_child(sup, sleepy(restart="permanent"))
        kill_with(pid, reason, sup)
        assert counts(sup) == (n, n, 0, n)
        assert pid not in [p for _, p, _, _ in DS.which_children(sup)]


def test_a_child_is_restarted_with_different_outcomes():
    """Elixir's "child is restarted with different values": ok, ignore (forgotten), error (restarting)."""
    sup = DS.start_link(max_restarts=10 ** 9)
    c1 = DS.start_child(sup, worker("ok", "ok"))
    assert DS.which_children(sup) == [("undefined", c1, "worker", ["Worker"])]
    kill_with(c1, "shutdown", sup)
    assert counts(sup) == (1, 1, 0, 1)

    c2 = DS.start_child(sup, worker("ok", "ignore"))
    assert counts(sup) == (2, 2, 0, 2)
    kill_with(c2, "shutdown", sup)                # restarted into ignore: the child is gone
    assert counts(sup) == (1, 1, 0, 1)

    c3 = DS.start_child(sup, worker("ok", "error"))
    kill_with(c3, "shutdown", sup)                # its restart keeps failing
    assert counts(sup) == (2, 1, 0, 2)
    assert [pid for _, pid, _, _ in DS.which_children(sup)][1] == "restarting"
    DS.terminate_child(sup, c3)                   # terminated by the pid that died, as Elixir allows
    assert counts(sup) == (1, 1, 0, 1)
    with pytest.raises(LookupError):
        DS.terminate_child(sup, c3)


def test_a_child_is_restarted_when_trying_again():
    sup = DS.start_link(max_restarts=2)
    pid = DS.start_child(sup, worker("ok", "error", "ok"))
    DS.describe(sup)
    kill_with(pid, "shutdown", sup)
    assert counts(sup) == (1, 1, 0, 1)
    d = DS.describe(sup)
    assert [e["event"] for e in d["history"]] == ["started", "exited", "start_failed", "restarted"]
    assert len(d["restarts"]) == 2


# -- restart intensity -------------------------------------------------------------------------------

def test_a_child_triggers_the_maximum_restarts():
    sup = DS.start_link(max_restarts=1)
    pid = DS.start_child(sup, worker("ok", "error"))
    kill_with(pid, "shutdown")
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_a_child_triggers_the_maximum_intensity_when_trying_again():
    sup = DS.start_link(max_restarts=10)
    pid = DS.start_child(sup, worker("ok", "error"))
    kill_with(pid, "shutdown")
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_intensity_counts_all_children_and_forgets_old_restarts(fake_clock):
    sup = DS.start_link(max_restarts=2, max_seconds=10)
    for _ in range(3):
        DS.start_child(sup, Sleepy)

    def live():
        return [p for _, p, _, _ in DS.which_children(sup)]

    kill_with(live()[0], "boom", sup)
    kill_with(live()[1], "boom", sup)
    fake_clock.advance(10.5)                       # both fall out of the window
    kill_with(live()[2], "boom", sup)
    assert gs.alive(sup)
    survivors = live()
    last = gs.monitor(survivors[2])
    kill_with(survivors[0], "boom", sup)
    kill_with(survivors[1], "boom")                # the third restart within 10 s: past max_restarts=2
    assert_receive(("EXIT", sup, "shutdown"), LONG)
    assert_receive(("DOWN", last, "process", survivors[2], "shutdown"), LONG)


# -- terminate/2: shutting the supervisor down ----------------------------------------------------

def _three(sup, spec):
    pids = [DS.start_child(sup, spec) for _ in range(3)]
    return pids, [gs.monitor(p) for p in pids]


@pytest.mark.parametrize("shutdown,reason", [("brutal_kill", "killed"), ("infinity", "shutdown"), (1.0, "shutdown")],
                         ids=["brutal_kill", "infinity", "seconds"])
def test_stopping_the_supervisor_stops_every_child(shutdown, reason):
    sup = DS.start_link()
    pids, refs = _three(sup, sleepy(shutdown=shutdown))
    gs.exit(sup, "shutdown")
    for pid, ref in zip(pids, refs):
        assert_receive(("DOWN", ref, "process", pid, reason), LONG)
    assert_receive(("EXIT", sup, "shutdown"), LONG)


@pytest.mark.parametrize("shutdown", ["infinity", 1.0], ids=str)
def test_children_that_exit_with_their_own_shutdown_reason(shutdown):
    sup = DS.start_link()
    pids, refs = _three(sup, sleepy(trap=True, exit_with=("shutdown", "oops"), shutdown=shutdown))
    gs.exit(sup, "shutdown")
    for pid, ref in zip(pids, refs):
        assert_receive(("DOWN", ref, "process", pid, ("shutdown", "oops")), LONG)


def test_children_past_their_shutdown_time_are_killed():
    sup = DS.start_link()
    me = gs.self()
    c1 = DS.start_child(sup, sleepy(shutdown=0.1))
    c2 = DS.start_child(sup, sleepy("stuck", trap=True, hang=True, to=me, shutdown=0.1))
    c3 = DS.start_child(sup, sleepy(shutdown=0.1))
    refs = [gs.monitor(p) for p in (c1, c2, c3)]
    gs.exit(sup, "shutdown")
    assert_receive(("DOWN", refs[0], "process", c1, "shutdown"), LONG)
    assert_receive(("DOWN", refs[1], "process", c2, "killed"), LONG)
    assert_receive(("DOWN", refs[2], "process", c3, "shutdown"), LONG)


def test_children_are_shut_down_at_once_not_one_after_another():
    """OTP's terminate_dynamic_children: every child gets "shutdown" at once, each has its own deadline."""
    sup = DS.start_link()
    me = gs.self()
    n, each = 5, 0.3
    pids = [DS.start_child(sup, sleepy(i, trap=True, hang=True, to=me, shutdown=each)) for i in range(n)]
    refs = [gs.monitor(p) for p in pids]
    t0 = time.monotonic()
    gs.exit(sup, "shutdown")
    for pid, ref in zip(pids, refs):
        assert_receive(("DOWN", ref, "process", pid, "killed"), LONG)
    elapsed = time.monotonic() - t0
    assert each <= elapsed < n * each * 0.8, elapsed      # one after another would take n * each


def test_permanent_children_that_exit_normally_on_shutdown():
    sup = DS.start_link()
    pids, refs = _three(sup, sleepy(trap=True, exit_with="normal", restart="permanent", shutdown="infinity"))
    gs.exit(sup, "shutdown")
    for pid, ref in zip(pids, refs):
        assert_receive(("DOWN", ref, "process", pid, "normal"), LONG)


def test_mixed_children():
    sup = DS.start_link()
    c1 = DS.start_child(sup, sleepy(shutdown="infinity"))
    c2 = DS.start_child(sup, sleepy(shutdown="brutal_kill"))
    r1, r2 = gs.monitor(c1), gs.monitor(c2)
    gs.exit(sup, "shutdown")
    assert_receive(("DOWN", r1, "process", c1, "shutdown"), LONG)
    assert_receive(("DOWN", r2, "process", c2, "killed"), LONG)


def test_a_trapping_child_runs_terminate_on_shutdown():
    sup = DS.start_link()
    me = gs.self()
    DS.start_child(sup, sleepy("t", trap=True, to=me))
    assert_receive(("ready", "t", ...), LONG)
    gs.stop(sup, "shutdown")
    assert_receive(("terminate", "t", ..., "shutdown"), LONG)


# -- terminate_child/2 --------------------------------------------------------------------------------

@pytest.mark.parametrize("shutdown,reason", [("brutal_kill", "killed"), (1.0, "shutdown")], ids=["brutal_kill", "seconds"])
def test_terminate_child(shutdown, reason):
    sup = DS.start_link()
    pid = DS.start_child(sup, sleepy(shutdown=shutdown))
    ref = gs.monitor(pid)
    assert DS.terminate_child(sup, pid) is None
    assert_receive(("DOWN", ref, "process", pid, reason), LONG)
    with pytest.raises(LookupError, match=repr(pid)):
        DS.terminate_child(sup, pid)
    assert counts(sup) == (0, 0, 0, 0)


def test_terminate_child_forgets_even_a_permanent_child():
    sup = DS.start_link()
    pid = DS.start_child(sup, sleepy(restart="permanent"))
    DS.terminate_child(sup, pid)
    assert DS.which_children(sup) == []
    kinds = [e["event"] for e in DS.describe(sup)["history"]]
    assert kinds == ["started", "terminated"]


def test_terminate_child_of_a_process_that_is_not_a_child():
    sup = DS.start_link()
    other = gs.spawn(gs.receive)
    with pytest.raises(LookupError, match="not a child"):
        DS.terminate_child(sup, other)
    assert gs.alive(other)
    with pytest.raises(LookupError):
        DS.terminate_child(sup, "an id")
    gs.exit(other, "kill")


def test_terminate_child_kills_a_child_past_its_shutdown():
    sup = DS.start_link()
    me = gs.self()
    pid = DS.start_child(sup, sleepy("stuck", trap=True, hang=True, to=me, shutdown=0.1))
    ref = gs.monitor(pid)
    DS.terminate_child(sup, pid)
    assert_receive(("terminate", "stuck", pid, "shutdown"), LONG)
    assert_receive(("DOWN", ref, "process", pid, "killed"), LONG)


# -- supervised by a Supervisor, module-based ----------------------------------------------------------

def test_a_dynamic_supervisor_can_be_supervised_directly(uname):
    name = uname("dyn")
    top = gs.Supervisor.start_link([(DS, {"name": name, "max_children": 1})])
    assert gs.Supervisor.which_children(top) == [(name, gs.whereis(name), "supervisor", ["DynamicSupervisor"])]
    assert DS.which_children(name) == []
    DS.start_child(name, Sleepy)
    with pytest.raises(gs.StartError):
        DS.start_child(name, Sleepy)               # the options reached start_link


def test_several_dynamic_supervisors_are_identified_by_name(uname):
    a, b = uname("a"), uname("b")
    top = gs.Supervisor.start_link([(DS, {"name": a}), (DS, {"name": b})])
    assert [cid for cid, *_ in gs.Supervisor.which_children(top)] == [a, b]
    unnamed = gs.Supervisor.start_child(top, DS)
    assert DS.which_children(unnamed) == []
    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_child(top, DS)
    assert err.value.reason == ("already_started", unnamed)


def test_a_dynamic_supervisor_child_spec_rejects_unknown_options():
    with pytest.raises(gs.ChildSpecError, match="max_kids"):
        gs.child_spec((DS, {"max_kids": 3}))
    with pytest.raises(gs.ChildSpecError, match="dict"):
        gs.child_spec((DS, ["name", "x"]))


class Pool(DS):
    def init(self, arg):
        match arg:
            case "ignore":
                return "ignore"
            case "unknown":
                return "unknown"
            case ("bad_flags", flags):
                return DS.flags(**flags)
        return DS.flags(max_children=arg, max_restarts=7)


def test_a_module_based_dynamic_supervisor(uname):
    name = uname("pool")
    sup = Pool.start_link(1, name=name)
    assert gs.whereis(name) is sup
    d = DS.describe(name)
    assert (d["module"], d["max_restarts"]) == ("Pool", 7)
    DS.start_child(name, Sleepy)
    with pytest.raises(gs.StartError) as err:
        DS.start_child(name, Sleepy)
    assert err.value.reason == "max_children"


def test_a_module_based_dynamic_supervisor_init_returns():
    gs.self()
    before = gs.processes()
    assert Pool.start_link("ignore") is None
    with pytest.raises(gs.StartError) as err:
        Pool.start_link("unknown")
    assert err.value.reason == ("bad_return_value", "unknown")
    for flags, flag in [({"strategy": "unknown"}, "strategy"), ({"max_restarts": -1}, "max_restarts"),
                        ({"max_seconds": 0}, "max_seconds"), ({"max_children": -1}, "max_children"),
                        ({"extra_arguments": -1}, "extra_arguments")]:
        with pytest.raises(gs.StartError) as err:
            Pool.start_link(("bad_flags", flags))
        assert isinstance(err.value.reason, ValueError) and flag in str(err.value.reason)
    assert gs.processes() == before
    refute_receive(("EXIT", ..., ...), SHORT)


def test_a_module_based_dynamic_supervisor_as_a_child():
    top = gs.Supervisor.start_link([(Pool, 2)])
    ((cid, pid, kind, mods),) = gs.Supervisor.which_children(top)
    assert (cid, kind, mods) == (Pool, "supervisor", ["Pool"])
    assert DS.count_children(pid)["specs"] == 0


def test_the_supervisor_restarts_a_dynamic_supervisor_without_its_children(uname):
    name = uname("dyn")
    top = gs.Supervisor.start_link([(DS, {"name": name, "max_restarts": 0})])
    first = gs.whereis(name)
    child = DS.start_child(name, Sleepy)
    ref = gs.monitor(first)
    kill_with(child, "boom")                        # max_restarts=0: it gives up, top restarts it
    assert_receive(("DOWN", ref, "process", first, "shutdown"), LONG)
    gs.Supervisor.count_children(top)
    assert gs.whereis(name) is not first and DS.which_children(name) == []
