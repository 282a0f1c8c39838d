"""Processes: spawn, send, receive, links, monitors, exit signals, names, info, reset.

Behaviours ported from Elixir's ``process_test.exs`` and the exit-signal rules
of the Erlang reference manual (as DESIGN.md states them). Every wait is on a
message, a monitor or a thread join; never on the wall clock.
"""

import re
import subprocess
import sys
import threading
import time

import pytest

import genserver_lite as gs
from genserver_lite import _threads
from genserver_lite.testing import assert_receive, refute_receive
from support import LONG, SHORT, Via, down, wait_down


def thread_of(pid):
    """The thread running ``pid`` (threads are named ``gs <0.N.0> label``)."""
    prefix = f"gs {pid!r} "
    found = [t for t in threading.enumerate() if t.name.startswith(prefix)]
    assert found, f"no thread for {pid!r}"
    return found[0]


def echo_loop():
    """A process that answers ("ping", from) with ("pong", self) forever."""
    while True:
        match gs.receive():
            case ("ping", from_):
                gs.send(from_, ("pong", gs.self()))
            case "stop":
                return


def raise_(exc):
    raise exc


def ping(pid):
    gs.send(pid, ("ping", gs.self()))
    assert_receive(("pong", pid), LONG)


# -- spawning --------------------------------------------------------------------------

def test_spawn_runs_the_function_with_its_args_in_a_new_process():
    me = gs.self()
    pid = gs.spawn(lambda a, b: gs.send(me, ("sum", a + b, gs.self())), 2, 3)
    assert isinstance(pid, gs.Pid)
    assert pid is not me
    assert assert_receive(("sum", 5, ...), LONG)[2] is pid


def test_spawn_is_not_linked_and_a_crash_does_not_reach_the_parent():
    pid, ref = gs.spawn_monitor(lambda: 1 / 0)
    msg = wait_down(ref, pid)
    assert isinstance(msg[4], ZeroDivisionError)
    refute_receive(("EXIT", pid, ...), SHORT)


def test_spawn_link_links_both_ways():
    pid = gs.spawn_link(echo_loop)
    assert pid in gs.info(gs.self())["links"]
    assert gs.self() in gs.info(pid)["links"]
    gs.send(pid, "stop")
    assert_receive(("EXIT", pid, "normal"), LONG)


def test_spawn_monitor_reports_the_exit_reason_and_the_pid():
    pid, ref = gs.spawn_monitor(lambda: None)
    assert isinstance(ref, gs.Ref)
    wait_down(ref, pid, "normal")
    assert not gs.alive(pid)
    pid, ref = gs.spawn_monitor(lambda: raise_(gs.Exit(("custom", 1))))
    wait_down(ref, pid, ("custom", 1))


def test_spawned_process_is_dead_after_its_function_returns():
    pid, ref = gs.spawn_monitor(lambda: None)
    wait_down(ref)
    assert not gs.alive(pid)
    assert gs.info(pid) is None
    assert pid not in gs.processes()


def test_make_ref_is_unique():
    a, b = gs.make_ref(), gs.make_ref()
    assert a is not b and a != b
    assert repr(a) != repr(b)


# -- send ----------------------------------------------------------------------------------

def test_send_to_a_pid_returns_the_message_and_keeps_order():
    me = gs.self()
    assert gs.send(me, "x") == "x"
    for i in range(100):
        gs.send(me, i)
    assert gs.receive(timeout=0) == "x"
    assert [gs.receive(timeout=0) for _ in range(100)] == list(range(100))


def test_send_to_a_registered_name(uname):
    name = uname()
    pid = gs.spawn(echo_loop)
    gs.register(name, pid)
    gs.send(name, ("ping", gs.self()))
    assert_receive(("pong", pid), LONG)


def test_send_through_a_via_tuple_goes_through_the_module():
    via = Via()
    pid = gs.spawn(echo_loop)
    assert via.register_name("echo", pid)
    gs.send(("via", via, "echo"), ("ping", gs.self()))
    assert_receive(("pong", pid), LONG)
    assert via.sent == [("echo", ("ping", gs.self()))]


def test_send_to_a_dead_pid_is_dropped_silently():
    pid, ref = gs.spawn_monitor(lambda: None)
    wait_down(ref)
    assert gs.send(pid, "into the void") == "into the void"


def test_send_to_an_unknown_name_raises_noproc(uname):
    name = uname("nobody")
    with pytest.raises(gs.NoProc, match=name) as info:
        gs.send(name, "hello")
    assert info.value.reason == "noproc"


# -- receive -------------------------------------------------------------------------------

def test_selective_receive_keeps_skipped_messages_in_order():
    me = gs.self()
    for m in [1, 2, 3, 4, 5]:
        gs.send(me, m)
    assert gs.receive(lambda m: m == 4, timeout=0) == 4
    assert gs.receive(lambda m: m % 2 == 1, timeout=0) == 1
    assert gs.flush() == [2, 3, 5]


def test_selective_receive_skips_messages_that_arrive_while_it_waits():
    me = gs.self()

    def sender():
        gs.receive()                    # "go"
        for m in ["a", "b", "wanted", "c"]:
            gs.send(me, m)
    pid = gs.spawn(sender)
    gs.send(pid, "go")
    assert gs.receive(lambda m: m == "wanted", timeout=LONG) == "wanted"
    assert gs.receive(timeout=LONG) == "a"
    assert gs.receive(timeout=LONG) == "b"
    assert gs.receive(timeout=LONG) == "c"


def test_receive_timeout_raises_receive_timeout_a_timeout_error():
    with pytest.raises(gs.ReceiveTimeout) as info:
        gs.receive(timeout=0.01)
    assert isinstance(info.value, TimeoutError)


def test_receive_timeout_keeps_non_matching_messages():
    gs.send(gs.self(), "keep me")
    with pytest.raises(gs.ReceiveTimeout):
        gs.receive(lambda m: m == "other", timeout=0.01)
    assert gs.flush() == ["keep me"]


def test_receive_timeout_zero_only_looks():
    gs.send(gs.self(), "here")
    assert gs.receive(timeout=0) == "here"
    t0 = time.monotonic()
    with pytest.raises(gs.ReceiveTimeout):
        gs.receive(timeout=0)
    assert time.monotonic() - t0 < 1.0


def test_a_raising_match_predicate_keeps_the_message():
    gs.send(gs.self(), "m")

    def bad(_):
        raise KeyError("predicate")
    with pytest.raises(KeyError):
        gs.receive(bad, timeout=0)
    assert gs.flush() == ["m"]


def test_flush_returns_and_empties_the_mailbox():
    me = gs.self()
    gs.send(me, 1)
    gs.send(me, 2)
    assert gs.flush() == [1, 2]
    assert gs.flush() == []


# -- links -----------------------------------------------------------------------------------

def test_a_crash_kills_a_linked_process_that_does_not_trap():
    me = gs.self()

    def middle():
        gs.spawn_link(lambda: (gs.receive(), 1 / 0))     # dies when told
        gs.send(me, ("child_ready", gs.self()))
        gs.receive()                                     # never returns normally

    pid, ref = gs.spawn_monitor(middle)
    assert_receive(("child_ready", pid), LONG)
    child = [p for p in gs.info(pid)["links"]][0]
    gs.send(child, "crash")
    reason = wait_down(ref, pid)[4]
    assert isinstance(reason, ZeroDivisionError)


def test_links_are_bidirectional():
    a = gs.spawn(echo_loop)
    ra = gs.monitor(a)
    me = gs.self()

    def b_body():
        gs.link(a)
        gs.send(me, "linked")
        gs.receive()
        raise gs.Exit("b_failed")
    b, rb = gs.spawn_monitor(b_body)
    assert_receive("linked", LONG)
    assert b in gs.info(a)["links"]
    gs.send(b, "go")
    wait_down(rb, b, "b_failed")
    wait_down(ra, a, "b_failed")


def test_unlink_removes_the_link_both_ways():
    pid = gs.spawn_link(echo_loop)
    gs.unlink(pid)
    assert pid not in gs.info(gs.self())["links"]
    assert gs.self() not in gs.info(pid)["links"]
    ref = gs.monitor(pid)
    gs.exit(pid, "boom")
    wait_down(ref, pid, "boom")
    refute_receive(("EXIT", pid, ...), SHORT)


def test_link_to_a_dead_process_when_trapping_gives_exit_noproc():
    pid, ref = gs.spawn_monitor(lambda: None)
    wait_down(ref)
    gs.link(pid)                                   # the shell traps exits
    assert_receive(("EXIT", pid, "noproc"), LONG)


def test_link_to_a_dead_process_when_not_trapping_raises_noproc():
    me = gs.self()
    dead, ref = gs.spawn_monitor(lambda: None)
    wait_down(ref)

    def body():
        try:
            gs.link(dead)
        except gs.NoProc as e:
            gs.send(me, ("noproc", str(e)))
    gs.spawn(body)
    msg = assert_receive(("noproc", ...), LONG)
    assert repr(dead) in msg[1]


# -- monitors --------------------------------------------------------------------------------

def test_monitor_delivers_down_with_the_reason():
    pid = gs.spawn(echo_loop)
    ref = gs.monitor(pid)
    assert pid in gs.info(gs.self())["monitors"]
    assert gs.self() in gs.info(pid)["monitored_by"]
    gs.exit(pid, ("shutdown", "test"))
    wait_down(ref, pid, ("shutdown", "test"))


def test_monitor_of_a_dead_pid_delivers_noproc_at_once():
    pid, ref1 = gs.spawn_monitor(lambda: None)
    wait_down(ref1)
    ref = gs.monitor(pid)
    assert gs.receive(timeout=0) == down(ref, pid, "noproc")


def test_monitor_of_an_unknown_name_delivers_noproc_with_the_name(uname):
    name = uname()
    ref = gs.monitor(name)
    assert gs.receive(timeout=0) == down(ref, name, "noproc")


def test_monitor_by_name_watches_the_process_behind_it(uname):
    name = uname()
    pid = gs.spawn(echo_loop)
    gs.register(name, pid)
    ref = gs.monitor(name)
    gs.send(pid, "stop")
    wait_down(ref, pid, "normal")


def test_each_monitor_gets_its_own_down():
    pid = gs.spawn(echo_loop)
    r1, r2 = gs.monitor(pid), gs.monitor(pid)
    assert r1 is not r2
    gs.send(pid, "stop")
    wait_down(r1, pid, "normal")
    wait_down(r2, pid, "normal")


def test_demonitor_stops_the_down():
    pid = gs.spawn(echo_loop)
    ref = gs.monitor(pid)
    assert gs.demonitor(ref) is True
    assert gs.self() not in gs.info(pid)["monitored_by"]
    ref2 = gs.monitor(pid)
    gs.send(pid, "stop")
    wait_down(ref2, pid)
    assert gs.flush() == []       # no DOWN for the demonitored ref


def test_demonitor_flush_removes_a_down_already_delivered():
    pid = gs.spawn(echo_loop)
    ref = gs.monitor(pid)
    ref2 = gs.monitor(pid)
    gs.send(gs.self(), "before")
    gs.send(pid, "stop")
    wait_down(ref2, pid)                         # so ref's DOWN is queued too
    gs.send(gs.self(), "after")
    assert gs.demonitor(ref, flush=True) is True
    assert gs.flush() == ["before", "after"]


def test_demonitor_without_flush_leaves_a_delivered_down():
    pid = gs.spawn(echo_loop)
    ref = gs.monitor(pid)
    ref2 = gs.monitor(pid)
    gs.send(pid, "stop")
    wait_down(ref2, pid)
    gs.demonitor(ref)
    assert gs.flush() == [down(ref, pid, "normal")]


# -- exit signals ------------------------------------------------------------------------------

def test_exit_normal_is_ignored_by_a_process_that_does_not_trap():
    pid = gs.spawn(echo_loop)
    gs.exit(pid, "normal")
    ping(pid)
    assert gs.alive(pid)


def test_exit_normal_reaches_a_trapping_process_as_a_message():
    me = gs.self()

    def trapper():
        gs.trap_exit(True)
        gs.send(me, "trapping")
        gs.send(me, ("got", gs.receive()))
    pid = gs.spawn(trapper)
    assert_receive("trapping", LONG)
    gs.exit(pid, "normal")
    assert_receive(("got", ("EXIT", me, "normal")), LONG)


def test_exit_self_normal_kills_the_caller():
    me = gs.self()

    def body():
        gs.exit(gs.self(), "normal")
        gs.send(me, "still alive")
    pid, ref = gs.spawn_monitor(body)
    wait_down(ref, pid, "normal")
    assert gs.flush() == []


def test_exit_self_normal_when_trapping_is_a_message():
    me = gs.self()

    def body():
        gs.trap_exit(True)
        gs.exit(gs.self(), "normal")
        gs.send(me, ("got", gs.receive(timeout=LONG)))
    pid = gs.spawn(body)
    assert_receive(("got", ("EXIT", pid, "normal")), LONG)


def test_linked_normal_exit_does_not_kill_a_non_trapping_partner():
    me = gs.self()

    def partner():
        gs.spawn_link(lambda: None)          # exits normal at once
        gs.send(me, ("partner", gs.self()))
        echo_loop()
    pid, ref = gs.spawn_monitor(partner)
    assert_receive(("partner", pid), LONG)
    ping(pid)
    assert gs.alive(pid)


def test_kill_cannot_be_trapped_and_links_see_killed():
    me = gs.self()

    def trapper():
        gs.trap_exit(True)
        gs.link(me)
        gs.send(me, "ready")
        while True:
            gs.send(me, ("trapped", gs.receive()))
    pid, ref = gs.spawn_monitor(trapper)
    assert_receive("ready", LONG)
    gs.exit(pid, "kill")
    wait_down(ref, pid, "killed")
    assert_receive(("EXIT", pid, "killed"), LONG)
    refute_receive(("trapped", ...), SHORT)


def test_kill_as_a_link_reason_is_trappable():
    me = gs.self()

    def dies_with_kill():
        gs.receive()
        raise gs.Exit("kill")

    def trapper():
        gs.trap_exit(True)
        child = gs.spawn_link(dies_with_kill)
        gs.send(me, ("child", child))
        gs.send(me, ("trapped", gs.receive()))
        echo_loop()
    pid, ref = gs.spawn_monitor(trapper)
    child = assert_receive(("child", ...), LONG)[1]
    gs.send(child, "go")
    assert_receive(("trapped", ("EXIT", child, "kill")), LONG)
    ping(pid)                                    # survived


def test_kill_as_a_link_reason_kills_a_non_trapping_partner_with_reason_kill():
    me = gs.self()

    def partner():
        child = gs.spawn_link(lambda: (gs.receive(), raise_(gs.Exit("kill"))))
        gs.send(me, ("child", child))
        gs.receive()
    pid, ref = gs.spawn_monitor(partner)
    child = assert_receive(("child", ...), LONG)[1]
    gs.send(child, "go")
    wait_down(ref, pid, "kill")


def test_other_reasons_kill_a_non_trapping_process():
    pid = gs.spawn(echo_loop)
    ref = gs.monitor(pid)
    gs.exit(pid, "boom")
    wait_down(ref, pid, "boom")
    assert not gs.alive(pid)


def test_other_reasons_become_exit_messages_for_a_trapping_process():
    me = gs.self()

    def trapper():
        gs.trap_exit(True)
        gs.send(me, "ready")
        gs.send(me, ("got", gs.receive()))
        echo_loop()
    pid = gs.spawn(trapper)
    assert_receive("ready", LONG)
    gs.exit(pid, ("custom", 42))
    assert_receive(("got", ("EXIT", me, ("custom", 42))), LONG)
    ping(pid)


def test_a_linked_crash_reaches_the_trapping_shell_as_an_exit_message():
    pid = gs.spawn_link(lambda: (gs.receive(), raise_(gs.Exit("bad"))))
    gs.send(pid, "go")
    assert_receive(("EXIT", pid, "bad"), LONG)


def test_trap_exit_returns_the_previous_value():
    me = gs.self()

    def body():
        a = gs.trap_exit(True)
        b = gs.trap_exit(False)
        gs.send(me, (a, b, gs.info(gs.self())["trap_exit"]))
    gs.spawn(body)
    assert_receive((False, True, False), LONG)


def test_exit_signal_to_a_dead_pid_is_a_no_op():
    pid, ref = gs.spawn_monitor(lambda: None)
    wait_down(ref)
    gs.exit(pid, "kill")
    assert gs.flush() == []


# -- death: names before monitors, interruption ----------------------------------------------------

def test_names_are_gone_before_monitors_fire(uname):
    name = uname()
    me = gs.self()
    victim = gs.spawn(echo_loop)
    gs.register(name, victim)

    def watcher():
        ref = gs.monitor(name)
        gs.send(me, "watching")
        gs.receive(lambda m: m[0] == "DOWN" and m[1] is ref)
        gs.send(me, ("whereis_at_down", gs.whereis(name)))
    gs.spawn(watcher)
    assert_receive("watching", LONG)
    gs.exit(victim, "boom")
    assert_receive(("whereis_at_down", None), LONG)


def test_names_are_gone_before_links_fire_so_a_restart_can_reuse_the_name(uname):
    name = uname()
    me = gs.self()

    def restarter():
        gs.trap_exit(True)
        child = gs.spawn_link(echo_loop)
        gs.register(name, child)
        gs.send(me, ("child", child))
        _, dead, _ = gs.receive(lambda m: m[0] == "EXIT")
        seen = gs.whereis(name)
        new = gs.spawn(echo_loop)
        gs.register(name, new)                      # would raise if the old name lingered
        gs.send(me, ("restarted", dead, seen, new))
    gs.spawn(restarter)
    child = assert_receive(("child", ...), LONG)[1]
    gs.exit(child, "crash")
    _, dead, seen, new = assert_receive(("restarted", ..., ..., ...), LONG)
    assert dead is child and seen is None
    assert gs.whereis(name) is new


def test_a_process_killed_while_busy_in_python_code_is_interrupted():
    me = gs.self()

    def busy():
        gs.send(me, "looping")
        n = 0
        while True:
            n += 1
    pid, ref = gs.spawn_monitor(busy)
    assert_receive("looping", LONG)
    thread = thread_of(pid)
    gs.exit(pid, "kill")
    wait_down(ref, pid, "killed")
    assert _threads.wait_released(thread, LONG)     # its process's code has stopped (the thread parks or ends)


def test_a_killed_process_can_send_nothing_more():
    me = gs.self()

    def chatter():
        i = 0
        while True:
            i += 1
            gs.send(me, ("tick", i))
    pid = gs.spawn(chatter)
    assert_receive(("tick", ...), LONG)
    thread = thread_of(pid)
    gs.exit(pid, "kill")
    assert not gs.alive(pid)
    before = gs.flush()                           # everything sent before the kill
    assert _threads.wait_released(thread, LONG)     # its process's code has stopped (the thread parks or ends)
    assert gs.flush() == [], f"sent after being killed (had {len(before)} before)"


def test_gs_sleep_is_interrupted_by_a_kill():
    me = gs.self()

    def sleeper():
        gs.send(me, "sleeping")
        gs.sleep(60)
        gs.send(me, "woke")
    pid, ref = gs.spawn_monitor(sleeper)
    assert_receive("sleeping", LONG)
    thread = thread_of(pid)
    t0 = time.monotonic()
    gs.exit(pid, "kill")
    wait_down(ref, pid, "killed")
    assert _threads.wait_released(thread, LONG)     # its process's code has stopped (the thread parks or ends)
    assert time.monotonic() - t0 < LONG
    assert gs.flush() == []


def test_gs_sleep_keeps_messages_that_arrive_meanwhile():
    me = gs.self()

    def sleeper():
        gs.send(me, ("sleeping", gs.self()))
        gs.sleep(0.05)
        gs.send(me, ("after", gs.flush()))
    pid = gs.spawn(sleeper)
    assert_receive(("sleeping", pid), LONG)
    gs.send(pid, 1)
    gs.send(pid, 2)
    assert_receive(("after", [1, 2]), LONG)


# -- info, processes, names ----------------------------------------------------------------------

def test_info_keys_and_values(uname):
    name = uname()
    me = gs.self()

    def body():
        gs.send(me, "ready")
        gs.receive(lambda m: m == "go")
    pid = gs.spawn_link(body)
    gs.register(name, pid)
    ref = gs.monitor(pid)
    assert_receive("ready", LONG)
    gs.send(pid, "a")
    gs.send(pid, "b")
    info = gs.info(pid)
    for key in ("pid", "name", "status", "message_queue_len", "links", "monitors",
                "monitored_by", "trap_exit", "behaviour", "module", "parent"):
        assert key in info, key
    assert info["pid"] is pid
    assert info["name"] == name
    assert info["message_queue_len"] == 2
    assert info["links"] == [me]
    assert info["monitored_by"] == [me]
    assert info["monitors"] == []
    assert info["trap_exit"] is False
    assert info["behaviour"] is None
    assert info["parent"] is me
    assert info["status"] in ("waiting", "runnable")
    gs.send(pid, "go")
    wait_down(ref, pid, "normal")
    assert gs.info(pid) is None


def test_info_status_waiting_for_an_idle_process():
    pid = gs.spawn(echo_loop)
    ping(pid)
    gs.testing.wait_until(lambda: gs.info(pid)["status"] == "waiting", LONG)
    assert gs.info(gs.self())["status"] == "running"


def test_processes_lists_live_processes_oldest_first():
    me = gs.self()
    a = gs.spawn(echo_loop)
    b = gs.spawn(echo_loop)
    c, ref = gs.spawn_monitor(lambda: None)
    wait_down(ref)
    procs = gs.processes()
    assert me in procs and a in procs and b in procs
    assert c not in procs
    assert procs.index(a) < procs.index(b)
    assert procs == sorted(procs)


def test_register_whereis_unregister(uname):
    name = uname()
    pid = gs.spawn(echo_loop)
    assert gs.whereis(name) is None
    gs.register(name, pid)
    assert gs.whereis(name) is pid
    assert gs.info(pid)["name"] == name
    gs.unregister(name)
    assert gs.whereis(name) is None
    assert gs.info(pid)["name"] is None
    gs.register(name, pid)                    # free again
    assert gs.whereis(name) is pid


def test_register_rules(uname):
    name, other = uname("a"), uname("b")
    a, b = gs.spawn(echo_loop), gs.spawn(echo_loop)
    gs.register(name, a)
    with pytest.raises(ValueError, match="already registered"):
        gs.register(name, b)                  # name taken
    with pytest.raises(ValueError, match="already registered as"):
        gs.register(other, a)                 # a process has at most one name
    dead, ref = gs.spawn_monitor(lambda: None)
    wait_down(ref)
    with pytest.raises(ValueError, match="not alive"):
        gs.register(other, dead)
    with pytest.raises(ValueError, match="not registered"):
        gs.unregister(other)
    assert gs.whereis(other) is None


def test_a_dead_process_loses_its_name(uname):
    name = uname()
    pid = gs.spawn(echo_loop)
    gs.register(name, pid)
    ref = gs.monitor(pid)
    gs.send(pid, "stop")
    wait_down(ref)
    assert gs.whereis(name) is None
    with pytest.raises(gs.NoProc):
        gs.send(name, "x")


def test_whereis_accepts_a_via_tuple():
    via = Via()
    pid = gs.spawn(echo_loop)
    via.register_name("k", pid)
    assert gs.whereis(("via", via, "k")) is pid
    assert gs.whereis(("via", via, "unknown")) is None


# -- the shell identity -----------------------------------------------------------------------------

def test_a_non_process_thread_gets_a_shell_that_traps_exits():
    me = gs.self()
    assert gs.self() is me                     # stable
    info = gs.info(me)
    assert info["trap_exit"] is True
    assert me in gs.processes()


def test_each_non_process_thread_gets_its_own_shell():
    me = gs.self()

    def other_thread():
        gs.send(me, ("hello", gs.self(), gs.info(gs.self())["trap_exit"]))
    t = threading.Thread(target=other_thread)
    t.start()
    t.join(LONG)
    _, other, trap = assert_receive(("hello", ..., ...), LONG)
    assert isinstance(other, gs.Pid) and other is not me
    assert trap is True


def test_links_work_from_the_shell():
    pid = gs.spawn(echo_loop)
    gs.link(pid)
    assert pid in gs.info(gs.self())["links"]
    gs.exit(pid, "boom")
    assert_receive(("EXIT", pid, "boom"), LONG)
    assert gs.alive(gs.self())


def test_a_shell_killed_while_it_waits_raises_exit_then_gets_a_fresh_identity():
    me = gs.self()

    def killer():
        # the kernel's own record: info()["status"] reports "waiting" for any empty mailbox
        gs.testing.wait_until(lambda: me._proc.status == "waiting", LONG)
        gs.exit(me, "kill")
    gs.spawn(killer)
    with pytest.raises(gs.Exit) as info:
        gs.receive(timeout=LONG)
    assert info.value.reason == "killed"
    assert not gs.alive(me)
    assert gs.self() is not me
    assert gs.alive(gs.self())


# -- reset ------------------------------------------------------------------------------------------

def test_reset_kills_everything_and_joins_threads(uname):
    name = uname()
    pids = [gs.spawn(echo_loop) for _ in range(5)]
    busy = gs.spawn(lambda: gs.sleep(60))
    gs.register(name, pids[0])
    threads = [thread_of(p) for p in pids + [busy]]
    gs.reset()
    assert not any(gs.alive(p) for p in pids + [busy])
    assert not any(t.is_alive() for t in threads)
    assert gs.whereis(name) is None
    assert [p for p in gs.processes() if p in pids] == []


def test_reset_runs_no_terminate():
    ran = []          # not a message: reset kills the shell that would receive it

    class Server(gs.GenServer):
        def init(self, _):
            gs.trap_exit(True)
            return ("ok", None)

        def terminate(self, reason, state):
            ran.append(reason)
    pid = Server.start()
    gs.stop(Server.start())
    assert ran == ["normal"]                       # terminate does run on a stop
    gs.reset()
    assert not gs.alive(pid)
    assert ran == ["normal"]


def test_reset_is_idempotent():
    gs.spawn(echo_loop)
    gs.reset()
    gs.reset()
    gs.reset()
    assert gs.processes() == []
    me = gs.self()
    assert gs.processes() == [me]


def test_reset_refuses_to_run_inside_a_process():
    me = gs.self()

    def body():
        try:
            gs.reset()
        except RuntimeError as e:
            gs.send(me, ("refused", str(e)))
    gs.spawn(body)
    msg = assert_receive(("refused", ...), LONG)
    assert "inside a process" in msg[1]


def test_reset_names_a_process_stuck_in_a_c_call_once_nothing_moves_for_its_timeout():
    me = gs.self()

    def stuck():
        gs.send(me, "in")
        time.sleep(1.0)             # a C call: the kill waits until it returns
    pid = gs.spawn(stuck)
    thread = thread_of(pid)
    assert_receive("in", LONG)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"stuck in a blocking call.*" + re.escape(thread.name)):
        gs.reset(timeout=0.2)
    assert time.monotonic() - t0 < 0.9      # gave up after its timeout, not when the sleep ended
    assert not gs.alive(pid)                 # dead to everyone already
    thread.join(LONG)                        # and its thread ends when the C call returns
    assert not thread.is_alive()


def test_process_threads_are_daemon_threads():
    # CPython scans every live non-daemon thread's lock each time a thread starts, which made the
    # 10,000th start cost a 10,000-lock scan; gs.reset() still runs at exit (threading._register_atexit).
    pid = gs.spawn(echo_loop)
    assert thread_of(pid).daemon


def test_a_script_that_leaves_processes_running_exits_at_once_and_cleanly(tmp_path):
    script = tmp_path / "leaves_them.py"
    script.write_text(
        "import genserver_lite as gs\n"
        "class Server(gs.GenServer):\n"
        "    def init(self, arg):\n"
        "        gs.trap_exit(True)\n"
        "        return ('ok', arg)\n"
        "sup = gs.Supervisor.start_link([(Server, 1)])\n"
        "waiter = gs.spawn(lambda: gs.receive())\n"
        "sleeper = gs.spawn(lambda: gs.sleep(3600))\n"
        "print('left', len(gs.processes()), 'processes', flush=True)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "left 5 processes\n"     # the shell, the supervisor, its child, two plain ones
    assert done.stderr == ""                        # no report of a stuck thread, no traceback
