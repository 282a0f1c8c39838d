"""Supervisor: start order, strategies, restart types, restart intensity, shutdown, child admin.

Behaviours ported from Elixir's ``supervisor_test.exs`` and OTP's
``supervisor_SUITE.erl`` (sup_start_*, child_adm, permanent/transient/temporary
x normal/shutdown/abnormal, one_for_one/one_for_all/rest_for_one and their
escalation, temporary_bystander, multiple_restarts, tree, hanging_restart_loop,
sup_stop_*), written for this library. Every wait is on a message or a monitor;
restart windows are crossed with ``gs.testing.FakeClock`` (the supervisor reads
the timer clock), never by sleeping.
"""

import itertools
import logging
import time

import pytest

import genserver_lite as gs
from genserver_lite.testing import assert_receive, refute_receive
from support import LONG, SHORT

pytest_plugins = ["pytester"]


class Probe(gs.GenServer):
    """A worker that tells the test about its life: ``("init", tag, pid)`` and ``("terminate", tag, pid, reason)``.

    Options (a dict): ``to`` (who hears), ``tag``, ``trap`` (trap exits so
    terminate runs on the supervisor's "shutdown"), ``init`` ("ignore",
    ("stop", r) or "raise"), ``hang`` (block in terminate until "release").
    """

    def init(self, opts):
        opts = dict(opts or {})
        if opts.get("trap"):
            gs.trap_exit(True)
        if opts.get("to") is not None:
            gs.send(opts["to"], ("init", opts.get("tag"), gs.self()))
        match opts.get("init"):
            case "ignore":
                return "ignore"
            case ("stop", reason):
                return ("stop", reason)
            case "raise":
                raise RuntimeError(f"{opts.get('tag')} failed in init on purpose")
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


def probe(tag, *, trap=True, notify=True, **opts):
    """A Probe child spec with id ``tag``; spec fields (restart, shutdown, ...) go in ``opts`` too."""
    fields = {k: opts.pop(k) for k in ("restart", "shutdown", "type", "modules") if k in opts}
    arg = {"tag": tag, "trap": trap, "to": gs.self() if notify else None, **opts}
    return gs.child_spec((Probe, arg), id=tag, **fields)


def children(sup) -> dict:
    """``{id: pid}`` in start order."""
    return {cid: pid for cid, pid, _type, _mods in gs.Supervisor.which_children(sup)}


def counts(sup) -> tuple:
    c = gs.Supervisor.count_children(sup)
    return (c["specs"], c["active"], c["supervisors"], c["workers"])


def exit_child(pid, reason, sup=None):
    """Make a Probe exit with ``reason`` (any reason, trapping or not) and wait until it is gone.

    The supervisor's EXIT is queued before our DOWN (links fire before
    monitors), so the next call to the supervisor sees the restart done;
    with ``sup``, make that call now (a barrier before moving a FakeClock).
    """
    ref = gs.monitor(pid)
    assert gs.call(pid, ("exit", reason)) == "ok"
    assert_receive(("DOWN", ref, "process", pid, reason), LONG)
    if sup is not None:
        gs.Supervisor.count_children(sup)


def kill(pid, sup=None):
    ref = gs.monitor(pid)
    gs.exit(pid, "kill")
    assert_receive(("DOWN", ref, "process", pid, "killed"), LONG)
    if sup is not None:
        gs.Supervisor.count_children(sup)


def life(n, timeout=LONG) -> list:
    """The next ``n`` init/terminate reports as ``(kind, tag)`` or ``(kind, tag, reason)``, in arrival order."""
    out = []
    for _ in range(n):
        m = assert_receive(lambda m: type(m) is tuple and m[0] in ("init", "terminate"), timeout)
        out.append(("init", m[1]) if m[0] == "init" else ("terminate", m[1], m[3]))
    return out


def no_more_life():
    refute_receive(lambda m: type(m) is tuple and m[0] in ("init", "terminate"), SHORT)


def fails_after(n_ok, cls=Probe, arg=None):
    """A start function that starts ``cls`` the first ``n_ok`` times and then fails (raises)."""
    calls = itertools.count()

    def start():
        if next(calls) < n_ok:
            return cls.start_link(arg)
        raise RuntimeError("cannot start any more")
    return start


# -- starting ----------------------------------------------------------------------------------

def test_children_start_in_order_and_are_linked():
    sup = gs.Supervisor.start_link([probe("a"), probe("b"), probe("c")])
    assert life(3) == [("init", "a"), ("init", "b"), ("init", "c")]
    kids = children(sup)
    assert list(kids) == ["a", "b", "c"]
    assert all(gs.alive(p) for p in kids.values())
    assert sup in gs.info(gs.self())["links"]
    for pid in kids.values():
        assert sup in gs.info(pid)["links"]
    assert counts(sup) == (3, 3, 0, 3)
    assert gs.Supervisor.which_children(sup)[0] == ("a", kids["a"], "worker", ["Probe"])


def test_named_supervisor_and_empty_children(uname):
    name = uname("sup")
    sup = gs.Supervisor.start_link([], name=name)
    assert gs.whereis(name) is sup
    assert gs.Supervisor.which_children(name) == []
    assert gs.Supervisor.count_children(name) == {"specs": 0, "active": 0, "supervisors": 0, "workers": 0}


def test_a_failed_start_stops_started_children_in_reverse_and_raises():
    gs.self()
    before = gs.processes()
    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_link([probe("a"), probe("b"), probe("c", init=("stop", "no_db")), probe("d")])
    assert err.value.reason == ("failed_to_start_child", "c", "no_db")
    assert "'c'" in str(err.value) and "no_db" in str(err.value)
    assert life(5) == [("init", "a"), ("init", "b"), ("init", "c"),
                       ("terminate", "b", "shutdown"), ("terminate", "a", "shutdown")]
    no_more_life()                                    # d never started
    refute_receive(("EXIT", ..., ...), SHORT)              # a failed start_link sends no EXIT
    assert gs.processes() == before


def test_a_start_that_raises_reports_the_exception():
    def broken():
        raise KeyError("config")

    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_link([probe("a"), {"id": "broken", "start": broken}])
    kind, cid, reason = err.value.reason
    assert (kind, cid) == ("failed_to_start_child", "broken")
    assert isinstance(reason, KeyError)
    assert life(2) == [("init", "a"), ("terminate", "a", "shutdown")]


def test_a_child_whose_init_raises_fails_the_start():
    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_link([probe("x", init="raise")])
    assert err.value.reason[:2] == ("failed_to_start_child", "x")
    assert isinstance(err.value.reason[2], RuntimeError)


def test_a_start_function_must_return_a_pid_or_none():
    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_link([{"id": "odd", "start": lambda: 42}])
    assert err.value.reason == ("failed_to_start_child", "odd", ("bad_start_return", 42))


def test_ignore_children_keep_their_spec_unless_temporary():
    sup = gs.Supervisor.start_link([
        probe("a"),
        probe("ign", init="ignore"),
        probe("tmp_ign", init="ignore", restart="temporary"),
        probe("tmp"),
    ])
    kids = gs.Supervisor.which_children(sup)
    assert [(cid, pid) for cid, pid, _, _ in kids if pid is None] == [("ign", None)]
    assert [cid for cid, *_ in kids] == ["a", "ign", "tmp"]     # OTP: a temporary ignore is not saved
    assert counts(sup) == (3, 2, 0, 3)


def test_start_child_of_an_ignoring_child():
    sup = gs.Supervisor.start_link([])
    assert gs.Supervisor.start_child(sup, probe("ign", init="ignore")) is None
    assert gs.Supervisor.start_child(sup, probe("tmp", init="ignore", restart="temporary")) is None
    assert gs.Supervisor.which_children(sup) == [("ign", None, "worker", ["Probe"])]
    assert counts(sup) == (1, 0, 0, 1)


def test_a_start_function_that_does_not_link_is_linked_by_the_supervisor():
    def start_unlinked():
        return gs.spawn(gs.receive)

    sup = gs.Supervisor.start_link([{"id": "plain", "start": start_unlinked}])
    pid = children(sup)["plain"]
    assert sup in gs.info(pid)["links"]
    kill(pid)
    new = children(sup)["plain"]
    assert new is not pid and gs.alive(new)


# -- strategies ----------------------------------------------------------------------------------

def test_one_for_one_restarts_only_the_child_that_died():
    sup = gs.Supervisor.start_link([probe("a"), probe("b"), probe("c")], strategy="one_for_one")
    life(3)
    old = children(sup)
    exit_child(old["b"], "boom")
    assert life(2) == [("terminate", "b", "boom"), ("init", "b")]
    no_more_life()
    new = children(sup)
    assert new["a"] is old["a"] and new["c"] is old["c"]
    assert new["b"] is not old["b"] and gs.alive(new["b"])
    assert counts(sup) == (3, 3, 0, 3)


def test_one_for_all_stops_the_others_newest_first_then_restarts_all_in_order():
    sup = gs.Supervisor.start_link([probe("a"), probe("b"), probe("c"), probe("d")], strategy="one_for_all")
    life(4)
    old = children(sup)
    exit_child(old["b"], "boom")
    assert life(8) == [("terminate", "b", "boom"),
                       ("terminate", "d", "shutdown"), ("terminate", "c", "shutdown"),
                       ("terminate", "a", "shutdown"),
                       ("init", "a"), ("init", "b"), ("init", "c"), ("init", "d")]
    new = children(sup)
    assert all(new[c] is not old[c] and gs.alive(new[c]) for c in "abcd")
    assert not any(gs.alive(p) for p in old.values())


def test_rest_for_one_restarts_the_child_and_those_started_after_it():
    sup = gs.Supervisor.start_link([probe("a"), probe("b"), probe("c"), probe("d")], strategy="rest_for_one")
    life(4)
    old = children(sup)
    exit_child(old["b"], "boom")
    assert life(6) == [("terminate", "b", "boom"),
                       ("terminate", "d", "shutdown"), ("terminate", "c", "shutdown"),
                       ("init", "b"), ("init", "c"), ("init", "d")]
    no_more_life()
    new = children(sup)
    assert new["a"] is old["a"]
    assert all(new[c] is not old[c] for c in "bcd")
    # the last child alone
    exit_child(new["d"], "boom")
    assert life(2) == [("terminate", "d", "boom"), ("init", "d")]
    no_more_life()


def test_a_temporary_bystander_is_stopped_and_not_restarted():
    for strategy in ("one_for_all", "rest_for_one"):
        sup = gs.Supervisor.start_link([probe("perm"), probe("temp", restart="temporary")],
                                       strategy=strategy, max_restarts=2)
        life(2)
        exit_child(children(sup)["perm"], "normal")      # permanent: restarted even after normal
        assert life(3) == [("terminate", "perm", "normal"), ("terminate", "temp", "shutdown"),
                           ("init", "perm")]
        no_more_life()
        assert list(children(sup)) == ["perm"]
        assert gs.alive(sup)
        gs.stop(sup, "shutdown")
        life(1)


def test_a_transient_sibling_is_restarted_by_its_group():
    sup = gs.Supervisor.start_link([probe("a"), probe("t", restart="transient")], strategy="one_for_all")
    life(2)
    old = children(sup)
    exit_child(old["a"], "boom")
    new = children(sup)
    assert new["t"] is not old["t"] and gs.alive(new["t"])


# -- restart types ----------------------------------------------------------------------------------

REASONS = ["normal", "shutdown", ("shutdown", "some_info"), "boom"]


@pytest.mark.parametrize("reason", REASONS, ids=str)
def test_a_permanent_child_is_always_restarted(reason):
    sup = gs.Supervisor.start_link([probe("c", restart="permanent")])
    old = children(sup)["c"]
    exit_child(old, reason)
    new = children(sup)["c"]
    assert type(new) is gs.Pid and new is not old and gs.alive(new)
    assert counts(sup) == (1, 1, 0, 1)


@pytest.mark.parametrize("reason", REASONS, ids=str)
def test_a_transient_child_is_restarted_only_after_an_abnormal_exit(reason):
    sup = gs.Supervisor.start_link([probe("c", restart="transient")])
    old = children(sup)["c"]
    exit_child(old, reason)
    if reason == "boom":
        assert gs.alive(children(sup)["c"])
        assert counts(sup) == (1, 1, 0, 1)
    else:
        assert gs.Supervisor.which_children(sup) == [("c", None, "worker", ["Probe"])]
        assert counts(sup) == (1, 0, 0, 1)
        with pytest.raises(gs.StartError) as err:           # its spec stays: already present
            gs.Supervisor.start_child(sup, probe("c", restart="transient"))
        assert err.value.reason == ("already_present", "c")
        again = gs.Supervisor.restart_child(sup, "c")
        assert gs.alive(again) and children(sup)["c"] is again


@pytest.mark.parametrize("reason", REASONS, ids=str)
def test_a_temporary_child_is_never_restarted_and_vanishes(reason):
    sup = gs.Supervisor.start_link([probe("keep"), probe("c", restart="temporary")])
    exit_child(children(sup)["c"], reason)
    assert list(children(sup)) == ["keep"]
    assert counts(sup) == (1, 1, 0, 1)
    pid = gs.Supervisor.start_child(sup, probe("c", restart="temporary"))   # the id is free again
    assert gs.alive(pid)


def test_killed_children_are_restarted_unless_temporary():
    sup = gs.Supervisor.start_link([probe("p"), probe("t", restart="transient"),
                                    probe("tmp", restart="temporary")], max_restarts=5)
    old = children(sup)
    for cid in ("p", "t", "tmp"):
        kill(old[cid])
    new = children(sup)
    assert list(new) == ["p", "t"]
    assert all(new[c] is not old[c] and gs.alive(new[c]) for c in new)


# -- restart intensity -------------------------------------------------------------------------------

def test_n_restarts_are_allowed_and_the_next_one_shuts_everything_down(fake_clock):
    sup = gs.Supervisor.start_link([probe("a"), probe("b"), probe("c")], max_restarts=3, max_seconds=5)
    life(3)
    for _ in range(3):
        exit_child(children(sup)["b"], "boom")
        assert life(2) == [("terminate", "b", "boom"), ("init", "b")]
    assert gs.alive(sup)
    last = children(sup)
    ref = gs.monitor(sup)
    exit_child(last["b"], "boom")
    assert_receive(("EXIT", sup, "shutdown"), LONG)
    assert_receive(("DOWN", ref, "process", sup, "shutdown"), LONG)
    assert life(3) == [("terminate", "b", "boom"),
                       ("terminate", "c", "shutdown"), ("terminate", "a", "shutdown")]
    assert not any(gs.alive(p) for p in last.values())


def test_restarts_older_than_the_window_do_not_count(fake_clock):
    sup = gs.Supervisor.start_link([probe("a", notify=False)], max_restarts=1, max_seconds=1)
    for _ in range(6):                      # OTP's multiple_restarts: one crash per window
        exit_child(children(sup)["a"], "boom", sup)
        fake_clock.advance(1.01)
    assert gs.alive(sup)
    exit_child(children(sup)["a"], "boom")
    exit_child(children(sup)["a"], "boom")  # a second one within the window: past intensity
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_a_restart_exactly_max_seconds_old_still_counts(fake_clock):
    """OTP keeps restarts with ``t >= now - period``: one exactly ``max_seconds`` old is in the window."""
    sup = gs.Supervisor.start_link([probe("a", notify=False)], max_restarts=2, max_seconds=5)
    exit_child(children(sup)["a"], "boom", sup)     # t = 0
    fake_clock.advance(2)
    exit_child(children(sup)["a"], "boom", sup)     # t = 2
    fake_clock.advance(3)
    exit_child(children(sup)["a"], "boom")      # t = 5: the one at 0 still counts -> 3 > 2
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_just_outside_the_window_is_forgotten(fake_clock):
    sup = gs.Supervisor.start_link([probe("a", notify=False)], max_restarts=2, max_seconds=5)
    exit_child(children(sup)["a"], "boom", sup)     # t = 0
    fake_clock.advance(2)
    exit_child(children(sup)["a"], "boom", sup)     # t = 2
    fake_clock.advance(3.001)
    exit_child(children(sup)["a"], "boom", sup)     # t = 5.001: the one at 0 has left the window
    assert gs.alive(sup)
    assert gs.Supervisor.describe(sup)["restarts"] == pytest.approx([2.0, 5.001])


def test_max_restarts_zero_gives_up_on_the_first_exit():
    sup = gs.Supervisor.start_link([probe("a"), probe("b")], max_restarts=0)
    life(2)
    exit_child(children(sup)["a"], "boom")
    assert_receive(("EXIT", sup, "shutdown"), LONG)
    assert life(2) == [("terminate", "a", "boom"), ("terminate", "b", "shutdown")]
    no_more_life()


def test_exits_that_cause_no_restart_do_not_count():
    sup = gs.Supervisor.start_link([probe("t", restart="transient", notify=False)], max_restarts=0)
    exit_child(children(sup)["t"], "normal")
    gs.Supervisor.restart_child(sup, "t")
    exit_child(children(sup)["t"], "shutdown")
    assert gs.alive(sup)
    assert gs.Supervisor.describe(sup)["restarts"] == []


def test_a_group_restart_counts_once(fake_clock):
    sup = gs.Supervisor.start_link([probe("a"), probe("b"), probe("c")], strategy="one_for_all",
                                   max_restarts=1)
    life(3)
    exit_child(children(sup)["a"], "boom")     # restarts three children: one restart
    assert len(life(6)) == 6
    assert gs.alive(sup)
    assert len(gs.Supervisor.describe(sup)["restarts"]) == 1
    exit_child(children(sup)["c"], "boom")
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_reaching_the_intensity_is_logged(caplog):
    sup = gs.Supervisor.start_link([probe("a", notify=False)], max_restarts=0)
    with caplog.at_level(logging.ERROR, logger="genserver_lite"):
        exit_child(children(sup)["a"], "boom")
        assert_receive(("EXIT", sup, "shutdown"), LONG)
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert "maximum restart intensity" in text
    assert "'a'" in text and "boom" in text


def test_a_crash_is_logged_naming_the_child_but_a_normal_exit_is_not(caplog):
    """A routine restart is a supervisor report at INFO (hidden by default, as Elixir's
    handle_sasl_reports: false); the crash itself is the server's error report."""
    sup = gs.Supervisor.start_link([probe("worker_x", notify=False)], max_restarts=5)
    with caplog.at_level(logging.INFO, logger="genserver_lite"):
        exit_child(children(sup)["worker_x"], "normal")
        gs.Supervisor.which_children(sup)
    assert not [r for r in caplog.records if "Supervisor" in r.getMessage()]
    with caplog.at_level(logging.INFO, logger="genserver_lite"):
        exit_child(children(sup)["worker_x"], "disk_full")
        gs.Supervisor.which_children(sup)
    sup_lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.getMessage().startswith("Supervisor")]
    assert any(level == logging.INFO and "'worker_x'" in line and "disk_full" in line
               for level, line in sup_lines), sup_lines
    assert not [line for level, line in sup_lines if level >= logging.ERROR], sup_lines


# -- restarts that fail ---------------------------------------------------------------------------------

def test_a_restart_that_fails_is_tried_again():
    sup = gs.Supervisor.start_link([], max_restarts=5)
    flaky = iter([True, False, True])        # starts, then fails once, then starts again

    def start():
        if next(flaky):
            return Probe.start_link({"tag": "f"})
        raise RuntimeError("not yet")

    gs.Supervisor.start_child(sup, {"id": "f", "start": start})
    ref = gs.Supervisor.subscribe(sup)
    first = children(sup)["f"]
    exit_child(first, "boom")
    events = [assert_receive(("supervisor_event", sup, ...), LONG)[2]["event"] for _ in range(3)]
    assert events == ["exited", "start_failed", "restarted"]
    assert gs.alive(children(sup)["f"])
    assert len(gs.Supervisor.describe(sup)["restarts"]) == 2    # the retry counts, as OTP
    gs.Supervisor.unsubscribe(sup, ref)


def test_retrying_a_failing_restart_reaches_the_intensity():
    sup = gs.Supervisor.start_link([probe("ok"), {"id": "f", "start": fails_after(1)}], max_restarts=3)
    life(1)
    exit_child(children(sup)["f"], "boom")
    assert_receive(("EXIT", sup, "shutdown"), LONG)
    assert life(1) == [("terminate", "ok", "shutdown")]


def test_a_child_stuck_restarting_can_be_inspected_and_terminated(fake_clock):
    """OTP's hanging_restart_loop: the supervisor keeps serving while a restart keeps failing."""
    sup = gs.Supervisor.start_link([{"id": "f", "start": fails_after(1)}], max_restarts=10 ** 9)
    exit_child(children(sup)["f"], "boom")
    assert [row[:3] for row in gs.Supervisor.which_children(sup)] == [("f", "restarting", "worker")]
    assert counts(sup) == (1, 0, 0, 1)
    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_child(sup, {"id": "f", "start": fails_after(1)})
    assert err.value.reason == ("already_present", "f")
    with pytest.raises(gs.StartError, match="'f' is restarting") as err:
        gs.Supervisor.restart_child(sup, "f")
    assert err.value.reason == ("restarting", "f")
    with pytest.raises(RuntimeError, match="'f' is restarting"):
        gs.Supervisor.delete_child(sup, "f")
    gs.Supervisor.terminate_child(sup, "f")
    assert [row[:3] for row in gs.Supervisor.which_children(sup)] == [("f", None, "worker")]
    gs.Supervisor.delete_child(sup, "f")
    assert gs.Supervisor.which_children(sup) == []
    assert gs.alive(sup)
    # stuck in the loop again, the supervisor still obeys its parent's exit signal
    gs.Supervisor.start_child(sup, {"id": "g", "start": fails_after(1)})
    exit_child(children(sup)["g"], "boom", sup)
    gs.exit(sup, "shutdown")
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_one_for_all_stops_a_restarted_child_when_a_later_one_fails_to_start():
    """OTP's one_for_all_other_child_fails_restart: the retry restarts the whole group."""
    sup = gs.Supervisor.start_link([probe("a"), {"id": "b", "start": fails_after(1, Probe, {"tag": "b"})}],
                                   strategy="one_for_all", max_restarts=3)
    assert life(1) == [("init", "a")]
    exit_child(children(sup)["a"], "boom")
    # a restarts, b fails; the retry shuts the new a down again, then b fails again ... until intensity
    assert_receive(("EXIT", sup, "shutdown"), LONG)
    # crash, then 3 tries (max_restarts=3), each stopping the a it had just started; the 4th escalates
    assert life(7) == [("terminate", "a", "boom"), ("init", "a"),
                       ("terminate", "a", "shutdown"), ("init", "a"),
                       ("terminate", "a", "shutdown"), ("init", "a"),
                       ("terminate", "a", "shutdown")]
    no_more_life()


# -- nested supervisors and escalation -------------------------------------------------------------------

class Inner(gs.Supervisor):
    def init(self, arg):
        return gs.supervise([probe(arg["worker"], notify=False)], max_restarts=arg.get("max", 0))


def test_a_child_supervisor_that_gives_up_is_restarted_then_the_parent_gives_up(fake_clock):
    top = gs.Supervisor.start_link([gs.child_spec((Inner, {"worker": "w"}), id="inner")], max_restarts=1)
    inner1 = children(top)["inner"]
    w1 = children(inner1)["w"]
    ref1 = gs.monitor(inner1)
    exit_child(w1, "boom")                     # inner has max_restarts=0: it gives up
    assert_receive(("DOWN", ref1, "process", inner1, "shutdown"), LONG)
    inner2 = children(top)["inner"]
    assert inner2 is not inner1 and not gs.alive(inner1)
    w2 = children(inner2)["w"]
    assert w2 is not w1 and gs.alive(w2)
    assert gs.Supervisor.describe(top)["children"][0]["restarts"] == 1
    ref = gs.monitor(top)
    exit_child(w2, "boom")                     # inner gives up again: top's second restart > 1
    assert_receive(("EXIT", top, "shutdown"), LONG)
    assert_receive(("DOWN", ref, "process", top, "shutdown"), LONG)
    assert not gs.alive(inner2)


def test_a_transient_child_supervisor_that_gives_up_is_not_restarted():
    """A supervisor that gives up exits with "shutdown", which is not abnormal for a transient child."""
    top = gs.Supervisor.start_link([gs.child_spec((Inner, {"worker": "w"}), id="inner", restart="transient")],
                                   max_restarts=0)
    inner = children(top)["inner"]
    ref = gs.monitor(inner)
    exit_child(children(inner)["w"], "boom")
    assert_receive(("DOWN", ref, "process", inner, "shutdown"), LONG)
    assert gs.Supervisor.which_children(top) == [("inner", None, "supervisor", ["Inner"])]
    assert gs.alive(top)


def test_a_supervision_tree_restarts_subtrees_but_not_dynamic_children():
    """OTP's ``tree``: a one_for_all top, two child supervisors; the second escalates."""
    def sup1():
        return gs.Supervisor.start_link([probe("c1", notify=False), probe("c2", notify=False)], max_restarts=4)

    def sup2():
        return gs.Supervisor.start_link([], max_restarts=4)

    top = gs.Supervisor.start_link([], strategy="one_for_all", max_restarts=4)
    s1 = gs.Supervisor.start_child(top, {"id": "sup1", "start": sup1, "type": "supervisor"})
    s2 = gs.Supervisor.start_child(top, {"id": "sup2", "start": sup2, "type": "supervisor"})
    assert counts(top) == (2, 2, 2, 0)
    assert counts(s1) == (2, 2, 0, 2) and counts(s2) == (0, 0, 0, 0)
    c3 = gs.Supervisor.start_child(s2, {"id": "c3", "start": fails_after(1, Probe, {"tag": "c3"})})
    c4 = gs.Supervisor.start_child(s2, probe("c4", notify=False))
    assert counts(s2) == (2, 2, 0, 2)
    s1_kids = children(s1)

    exit_child(c4, "boom")                     # only c4 restarts
    assert children(s1) == s1_kids
    assert children(s2)["c3"] is c3 and children(s2)["c4"] is not c4

    ref1 = gs.monitor(s1)
    exit_child(c3, "boom")                     # c3 cannot restart: s2 escalates, top restarts both subtrees
    assert_receive(("DOWN", ref1, "process", s1, "shutdown"), LONG)   # top is restarting its group
    new1, new2 = children(top)["sup1"], children(top)["sup2"]
    assert not gs.alive(s1) and not gs.alive(s2)
    assert gs.alive(new1) and gs.alive(new2)
    assert list(children(new1)) == ["c1", "c2"] and counts(new1) == (2, 2, 0, 2)
    assert all(p not in s1_kids.values() for p in children(new1).values())
    assert gs.Supervisor.which_children(new2) == []     # dynamic children are not part of its spec


# -- shutdown ------------------------------------------------------------------------------------------------

def test_stopping_a_supervisor_stops_children_in_reverse_order_with_shutdown():
    sup = gs.Supervisor.start_link([probe("a"), probe("b"), probe("c")])
    life(3)
    kids = children(sup)
    refs = {c: gs.monitor(p) for c, p in kids.items()}
    gs.stop(sup, "shutdown")
    assert life(3) == [("terminate", "c", "shutdown"), ("terminate", "b", "shutdown"),
                       ("terminate", "a", "shutdown")]
    for c, p in kids.items():
        assert_receive(("DOWN", refs[c], "process", p, "shutdown"), LONG)


def test_an_exit_signal_from_the_parent_stops_the_supervisor():
    sup = gs.Supervisor.start_link([probe("a"), probe("b")])
    life(2)
    gs.exit(sup, "shutdown")
    assert_receive(("EXIT", sup, "shutdown"), LONG)
    assert life(2) == [("terminate", "b", "shutdown"), ("terminate", "a", "shutdown")]


def test_a_child_that_does_not_trap_exits_dies_at_once_with_shutdown():
    sup = gs.Supervisor.start_link([probe("a", trap=False, shutdown=30)])
    life(1)
    pid = children(sup)["a"]
    ref = gs.monitor(pid)
    t0 = time.monotonic()
    gs.stop(sup, "shutdown")
    assert_receive(("DOWN", ref, "process", pid, "shutdown"), LONG)
    assert time.monotonic() - t0 < 5          # far less than its 30 s: it never waited
    no_more_life()                            # no terminate: it did not trap exits


def test_a_child_that_blocks_in_terminate_is_killed_after_its_shutdown_time():
    sup = gs.Supervisor.start_link([probe("first"), probe("stuck", hang=True, shutdown=0.2), probe("last")])
    life(3)
    kids = children(sup)
    ref = gs.monitor(kids["stuck"])
    t0 = time.monotonic()
    gs.stop(sup, "shutdown")
    elapsed = time.monotonic() - t0
    assert_receive(("DOWN", ref, "process", kids["stuck"], "killed"), LONG)
    assert 0.2 <= elapsed < 3.0
    assert life(3) == [("terminate", "last", "shutdown"), ("terminate", "stuck", "shutdown"),
                       ("terminate", "first", "shutdown")]


def test_brutal_kill_gives_no_chance_to_terminate():
    sup = gs.Supervisor.start_link([probe("a"), probe("brute", shutdown="brutal_kill")])
    life(2)
    pid = children(sup)["brute"]
    ref = gs.monitor(pid)
    gs.stop(sup, "shutdown")
    assert_receive(("DOWN", ref, "process", pid, "killed"), LONG)
    assert life(1) == [("terminate", "a", "shutdown")]
    no_more_life()


def test_infinity_waits_for_the_child_however_long_it_takes():
    sup = gs.Supervisor.start_link([probe("slow", hang=True, shutdown="infinity")])
    life(1)
    pid = children(sup)["slow"]
    ref = gs.monitor(pid)
    gs.exit(sup, "shutdown")                  # we are the parent: the supervisor begins shutting down
    assert life(1) == [("terminate", "slow", "shutdown")]
    refute_receive(("DOWN", ref, ..., ..., ...), 0.5)    # longer than any finite shutdown in these tests
    assert gs.alive(sup)
    gs.send(pid, "release")
    assert_receive(("DOWN", ref, "process", pid, "shutdown"), LONG)
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_a_child_that_exits_with_another_reason_during_shutdown_is_reported(caplog):
    class Stubborn(gs.GenServer):
        def init(self, arg):
            gs.trap_exit(True)
            return ("ok", None)

        def terminate(self, reason, state):
            raise gs.Exit("my_own_reason")

    sup = gs.Supervisor.start_link([gs.child_spec(Stubborn, id="s")])
    pid = children(sup)["s"]
    ref = gs.monitor(pid)
    with caplog.at_level(logging.ERROR, logger="genserver_lite"):
        gs.stop(sup, "shutdown")
    assert_receive(("DOWN", ref, "process", pid, "my_own_reason"), LONG)
    assert any("'s'" in r.getMessage() and "my_own_reason" in r.getMessage() for r in caplog.records)


def test_a_child_already_dead_when_shut_down_is_booked_with_its_own_reason():
    """OTP's monitor_child: an EXIT already queued carries the real reason (the DOWN would say noproc)."""
    sup = gs.Supervisor.start_link([probe("a", notify=False), probe("b", notify=False)],
                                   strategy="one_for_all", max_restarts=5)
    old = children(sup)
    gs.Supervisor.subscribe(sup)
    gs.sys.suspend(sup)                  # both EXITs wait in its mailbox
    kill(old["b"])
    kill(old["a"])
    gs.sys.resume(sup)
    got = [assert_receive(("supervisor_event", sup, ...), LONG)[2] for _ in range(4)]
    assert [(e["event"], e["id"], e["reason"]) for e in got] == [
        ("exited", "b", "killed"), ("terminated", "a", "killed"),
        ("restarted", "a", None), ("restarted", "b", None)]
    refute_receive(("supervisor_event", sup, ...), SHORT)     # a's EXIT was consumed: no second restart
    assert len(gs.Supervisor.describe(sup)["restarts"]) == 1
    assert all(gs.alive(p) for p in children(sup).values())


def test_a_supervisor_child_is_given_infinity_to_stop():
    top = gs.Supervisor.start_link([gs.child_spec((Inner, {"worker": "w"}), id="inner")])
    row = gs.Supervisor.describe(top)["children"][0]
    assert (row["type"], row["shutdown"]) == ("supervisor", "infinity")


def test_a_nested_supervisor_shuts_its_own_children_down_first():
    class Mid(gs.Supervisor):
        def init(self, me):
            return gs.supervise([gs.child_spec((Probe, {"tag": "m1", "to": me, "trap": True}), id="m1"),
                                 gs.child_spec((Probe, {"tag": "m2", "to": me, "trap": True}), id="m2")])

    top = gs.Supervisor.start_link([probe("before"), gs.child_spec((Mid, gs.self()), id="mid"), probe("after")])
    life(4)
    gs.stop(top, "shutdown")
    assert life(4) == [("terminate", "after", "shutdown"), ("terminate", "m2", "shutdown"),
                       ("terminate", "m1", "shutdown"), ("terminate", "before", "shutdown")]


# -- child administration (OTP child_adm, Elixir "child life-cycle") -------------------------------------------

def test_child_life_cycle():
    sup = gs.Supervisor.start_link([probe("c1", notify=False)])
    pid1 = children(sup)["c1"]
    assert counts(sup) == (1, 1, 0, 1)

    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_child(sup, probe("c1", notify=False))
    assert err.value.reason == ("already_started", pid1)

    ref = gs.monitor(pid1)
    assert gs.Supervisor.terminate_child(sup, "c1") is None
    assert_receive(("DOWN", ref, "process", pid1, "shutdown"), LONG)
    assert gs.Supervisor.which_children(sup) == [("c1", None, "worker", ["Probe"])]
    assert counts(sup) == (1, 0, 0, 1)
    gs.Supervisor.terminate_child(sup, "c1")          # terminating a stopped child is fine

    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_child(sup, probe("c1", notify=False))
    assert err.value.reason == ("already_present", "c1")

    pid2 = gs.Supervisor.restart_child(sup, "c1")
    assert gs.alive(pid2) and pid2 is not pid1
    assert children(sup) == {"c1": pid2}
    assert gs.call(pid2, "ping") == ("pong", "c1")
    with pytest.raises(gs.StartError, match="'c1' is running") as err:
        gs.Supervisor.restart_child(sup, "c1")
    assert err.value.reason == ("running", "c1")

    with pytest.raises(RuntimeError, match="c1"):
        gs.Supervisor.delete_child(sup, "c1")         # running
    gs.Supervisor.terminate_child(sup, "c1")
    assert gs.Supervisor.delete_child(sup, "c1") is None
    assert gs.Supervisor.which_children(sup) == []
    assert counts(sup) == (0, 0, 0, 0)
    with pytest.raises(LookupError, match="c1"):
        gs.Supervisor.restart_child(sup, "c1")

    pid3 = gs.Supervisor.start_child(sup, probe("c1", notify=False))
    assert children(sup) == {"c1": pid3}


def test_unknown_ids_raise_lookup_error_naming_them():
    sup = gs.Supervisor.start_link([probe("c1", notify=False)])
    pid = children(sup)["c1"]
    for fn in (gs.Supervisor.terminate_child, gs.Supervisor.restart_child, gs.Supervisor.delete_child):
        with pytest.raises(LookupError, match="hej"):
            fn(sup, "hej")
    with pytest.raises(LookupError):
        gs.Supervisor.terminate_child(sup, pid)       # a static supervisor knows ids, not pids
    assert children(sup) == {"c1": pid}


def test_calls_to_a_missing_supervisor_raise_noproc(uname):
    name = uname("nobody")
    for call in (lambda: gs.Supervisor.which_children(name), lambda: gs.Supervisor.count_children(name),
                 lambda: gs.Supervisor.terminate_child(name, "c1"),
                 lambda: gs.Supervisor.delete_child(name, "c1"),
                 lambda: gs.Supervisor.start_child(name, probe("c1", notify=False))):
        with pytest.raises(gs.NoProc):
            call()


def test_a_failing_start_child_adds_no_spec():
    sup = gs.Supervisor.start_link([probe("a", notify=False)])
    with pytest.raises(gs.StartError) as err:
        gs.Supervisor.start_child(sup, probe("bad", notify=False, init=("stop", "no_way")))
    assert err.value.reason == "no_way"
    assert list(children(sup)) == ["a"]
    with pytest.raises(LookupError):
        gs.Supervisor.restart_child(sup, "bad")


def test_terminate_child_forgets_a_temporary_child():
    sup = gs.Supervisor.start_link([probe("tmp", restart="temporary", notify=False)])
    gs.Supervisor.terminate_child(sup, "tmp")
    assert gs.Supervisor.which_children(sup) == []


def test_terminate_child_uses_the_child_shutdown():
    sup = gs.Supervisor.start_link([probe("stuck", hang=True, shutdown=0.1)])
    life(1)
    pid = children(sup)["stuck"]
    ref = gs.monitor(pid)
    gs.Supervisor.terminate_child(sup, "stuck")
    assert_receive(("DOWN", ref, "process", pid, "killed"), LONG)
    assert life(1) == [("terminate", "stuck", "shutdown")]


def test_a_restart_child_that_ignores_returns_none():
    flip = iter([False, True])

    def start():
        return None if next(flip) else Probe.start_link({"tag": "x"})

    sup = gs.Supervisor.start_link([{"id": "x", "start": start}])
    gs.Supervisor.terminate_child(sup, "x")
    assert gs.Supervisor.restart_child(sup, "x") is None
    assert [row[:2] for row in gs.Supervisor.which_children(sup)] == [("x", None)]


def test_a_named_child_is_restarted_under_its_name_at_once(uname):
    name = uname("named")
    def start_named():
        return Probe.start_link({"tag": "n"}, name=name)

    sup = gs.Supervisor.start_link([probe("a", notify=False), {"id": "n", "start": start_named}],
                                   strategy="one_for_all")
    first = gs.whereis(name)
    assert first is children(sup)["n"]
    for _ in range(2):
        exit_child(gs.whereis(name), "boom", sup)    # the name is free before the restart
        now = gs.whereis(name)
        assert now is not None and now is children(sup)["n"] and now is not first
        assert gs.call(name, "ping") == ("pong", "n")
    kill(children(sup)["a"], sup)                # as part of a group restart too
    now = gs.whereis(name)
    assert now is children(sup)["n"] and gs.alive(now)


# -- module-based supervisors ----------------------------------------------------------------------------------

class App(gs.Supervisor):
    def init(self, arg):
        return gs.supervise([probe("cache", notify=False), gs.child_spec((Probe, {"tag": arg}), id="buffer")],
                            strategy="rest_for_one", max_restarts=2, max_seconds=1.5)


def test_a_module_supervisor_starts_from_init(uname):
    name = uname("app")
    sup = App.start_link("buf", name=name)
    assert gs.whereis(name) is sup
    assert list(children(name)) == ["cache", "buffer"]
    assert gs.call(children(name)["buffer"], "ping") == ("pong", "buf")
    d = gs.Supervisor.describe(name)
    assert (d["strategy"], d["max_restarts"], d["max_seconds"], d["module"]) == ("rest_for_one", 2, 1.5, "App")
    assert gs.info(sup)["behaviour"] == "Supervisor"


def test_a_module_supervisor_init_may_ignore():
    class Nothing(gs.Supervisor):
        def init(self, arg):
            return "ignore"

    gs.self()
    before = gs.processes()
    assert Nothing.start_link() is None
    assert gs.processes() == before
    refute_receive(("EXIT", ..., ...), SHORT)


def test_a_module_supervisor_init_bad_return():
    class Wrong(gs.Supervisor):
        def init(self, arg):
            return ("ok", [])

    with pytest.raises(gs.StartError) as err:
        Wrong.start_link()
    assert err.value.reason == ("bad_return_value", ("ok", []))


def test_a_module_supervisor_init_that_raises():
    class Crashy(gs.Supervisor):
        def init(self, arg):
            raise ZeroDivisionError("in init")

    with pytest.raises(gs.StartError) as err:
        Crashy.start_link()
    assert isinstance(err.value.reason, ZeroDivisionError)


def test_a_module_supervisor_takes_its_flags_from_init_only():
    with pytest.raises(TypeError, match="App.*init"):
        App.start_link("x", strategy="one_for_all")


def test_the_plain_supervisor_as_a_child():
    top = gs.Supervisor.start_link([(gs.Supervisor, [probe("leaf", notify=False)])])
    ((cid, inner, kind, _mods),) = gs.Supervisor.which_children(top)
    assert (cid, kind) == (gs.Supervisor, "supervisor")
    assert list(children(inner)) == ["leaf"]


def test_a_module_supervisor_as_a_child():
    top = gs.Supervisor.start_link([(App, "b")])
    assert gs.Supervisor.which_children(top)[0][2:] == ("supervisor", ["App"])
    inner = children(top)[App]
    assert list(children(inner)) == ["cache", "buffer"]
    assert counts(top) == (1, 1, 1, 0)


# -- describe, history, subscriptions ------------------------------------------------------------------------------

def events_of(sup):
    return [(e["event"], e["id"], e["action"]) for e in gs.Supervisor.describe(sup)["history"]]


def test_describe_gives_flags_children_and_history():
    sup = gs.Supervisor.start_link([probe("a", notify=False), probe("b", notify=False)],
                                   strategy="one_for_all", max_restarts=4, max_seconds=9)
    d = gs.Supervisor.describe(sup)
    assert (d["pid"], d["kind"], d["strategy"], d["max_restarts"], d["max_seconds"]) == \
        (sup, "Supervisor", "one_for_all", 4, 9)
    assert [(r["id"], r["status"], r["restarts"], r["restart"], r["type"]) for r in d["children"]] == \
        [("a", "running", 0, "permanent", "worker"), ("b", "running", 0, "permanent", "worker")]
    assert [r["pid"] for r in d["children"]] == list(children(sup).values())
    assert events_of(sup) == [("started", "a", "start"), ("started", "b", "start")]
    seqs = [e["seq"] for e in d["history"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 2


def test_history_records_exits_with_action_and_siblings():
    sup = gs.Supervisor.start_link([probe("a", notify=False), probe("b", notify=False), probe("c", notify=False)],
                                   strategy="rest_for_one")
    old_b = children(sup)["b"]
    exit_child(old_b, "boom")
    hist = gs.Supervisor.describe(sup)["history"][3:]
    assert [(e["event"], e["id"]) for e in hist] == [
        ("exited", "b"), ("terminated", "c"), ("restarted", "b"), ("restarted", "c")]
    exited = hist[0]
    assert (exited["pid"], exited["reason"], exited["action"], exited["siblings"]) == \
        (old_b, "boom", "restart", ["c"])
    assert hist[1]["reason"] == "shutdown"
    assert hist[2]["pid"] is children(sup)["b"]
    rows = {r["id"]: r["restarts"] for r in gs.Supervisor.describe(sup)["children"]}
    assert rows == {"a": 0, "b": 1, "c": 1}


def test_history_of_exits_that_are_not_restarted_and_of_admin():
    sup = gs.Supervisor.start_link([probe("t", restart="transient", notify=False),
                                    probe("k", notify=False)])
    exit_child(children(sup)["t"], "normal")
    gs.Supervisor.terminate_child(sup, "k")
    gs.Supervisor.delete_child(sup, "k")
    assert events_of(sup)[2:] == [("exited", "t", "none"), ("terminated", "k", "shutdown"),
                                  ("deleted", "k", "none")]


def test_restart_counts_are_kept_per_child():
    sup = gs.Supervisor.start_link([probe("a", notify=False), probe("b", notify=False)], max_restarts=10)
    for _ in range(3):
        exit_child(children(sup)["a"], "boom")
    kill(children(sup)["b"])
    rows = {r["id"]: r["restarts"] for r in gs.Supervisor.describe(sup)["children"]}
    assert rows == {"a": 3, "b": 1}


def test_subscribers_receive_each_event_until_they_unsubscribe():
    sup = gs.Supervisor.start_link([probe("a", notify=False)], max_restarts=0)
    ref = gs.Supervisor.subscribe(sup)
    assert type(ref) is gs.Ref
    old = children(sup)["a"]
    gs.Supervisor.terminate_child(sup, "a")
    ev = assert_receive(("supervisor_event", sup, ...), LONG)[2]
    assert (ev["event"], ev["id"], ev["pid"], ev["reason"]) == ("terminated", "a", old, "shutdown")
    new = gs.Supervisor.restart_child(sup, "a")
    ev2 = assert_receive(("supervisor_event", sup, ...), LONG)[2]
    assert (ev2["event"], ev2["pid"]) == ("restarted", new)
    assert ev2["seq"] > ev["seq"]
    gs.Supervisor.unsubscribe(sup, ref)
    gs.Supervisor.terminate_child(sup, "a")
    refute_receive(("supervisor_event", sup, ...), SHORT)


def test_subscribers_see_the_intensity_reached():
    sup = gs.Supervisor.start_link([probe("a", notify=False), probe("b", notify=False)], max_restarts=0)
    gs.Supervisor.subscribe(sup)
    exit_child(children(sup)["a"], "boom")
    got = [assert_receive(("supervisor_event", sup, ...), LONG)[2] for _ in range(3)]
    assert [(e["event"], e["id"], e["action"]) for e in got] == [
        ("exited", "a", "escalate"), ("intensity_reached", "a", "shutdown"), ("terminated", "b", "shutdown")]
    assert got[1]["siblings"] == ["b"]
    assert_receive(("EXIT", sup, "shutdown"), LONG)


def test_the_history_is_bounded_and_keeps_the_newest():
    from genserver_lite._supervision import HISTORY
    sup = gs.Supervisor.start_link([probe("a", notify=False)], max_restarts=10 ** 6)
    for _ in range(HISTORY // 2 + 5):
        gs.Supervisor.terminate_child(sup, "a")
        gs.Supervisor.restart_child(sup, "a")
    hist = gs.Supervisor.describe(sup)["history"]
    assert len(hist) == HISTORY
    assert hist[-1]["seq"] == 1 + 2 * (HISTORY // 2 + 5)
    assert [e["seq"] for e in hist] == list(range(hist[0]["seq"], hist[-1]["seq"] + 1))


# -- the start_supervised fixture (ExUnit's start_supervised!) ------------------------------------------------------

def test_start_supervised_starts_children_under_a_test_supervisor(start_supervised):
    a = start_supervised(probe("a", notify=False))
    b = start_supervised((Probe, {"tag": "b"}), id="b")
    assert gs.call(a, "ping") == ("pong", "a") and gs.call(b, "ping") == ("pong", "b")
    sup = gs.info(a)["links"]
    assert len(sup) == 1 and sup[0] in gs.info(b)["links"]
    assert gs.Supervisor.which_children(sup[0])[1][:2] == ("b", b)


def test_start_supervised_stops_children_after_the_test(pytester):
    pytester.makepyfile(test_inner="""
        import genserver_lite as gs

        class Probe(gs.GenServer):
            def init(self, to):
                gs.trap_exit(True)
                return ("ok", to)

            def terminate(self, reason, to):
                gs.send(to, ("terminated", gs.self(), reason))

        def test_uses_the_fixture(start_supervised):
            pid = start_supervised((Probe, gs.self()))
            gs.send(gs.self(), ("child", pid))
            assert gs.alive(pid)
    """)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    pid = assert_receive(("child", ...), LONG)[1]
    assert_receive(("terminated", pid, "shutdown"), LONG)
    assert not gs.alive(pid)
