"""Kill storms: processes killed at random while calls are in flight, and children that will not stop.

What OTP promises and these tests check:

* every caller gets a reply or an exit, never a hang: half the calls here wait
  forever (``timeout=None``), so only the server's DOWN can end them when a
  kill lands mid-call;
* every monitor gets its DOWN: a watcher monitors random processes (and
  names) throughout the storm; once the tree is stopped, the DOWNs it
  received match the monitors it set, one for one;
* a supervisor never waits forever: a child that traps exits and then blocks
  (in ``gs.sleep``, in a long receive, in a receive loop that ignores the
  EXIT, or in a C call that cannot be interrupted) is killed when its
  ``shutdown`` time is up, and it is dead to everyone at that moment;
* a killed process does nothing more even when Python loses the kill's
  asynchronous exception, and a kill that lands while a process starts a
  thread neither hangs it nor kills the new thread.

Time is only asserted generously (a shared 2-core machine); the measured
figures are printed (``pytest -s``) and recorded in ``docs/reliability.md``.
"""

import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

import genserver_lite as gs
from genserver_lite import _threads
from genserver_lite import gen
from genserver_lite.testing import assert_receive, refute_receive, wait_until

STORM_SECONDS = 4.0
CALLERS = 4
SEED = 20240611
LONG = 5.0
CALL_TIMEOUT = 1.0
MARGIN = 2.0            # scheduling slack on a shared machine
SHUTDOWN = 0.3          # the stubborn children's shutdown time
REG = "storm-registry"


# == the storm ================================================================================================

class Worker(gs.GenServer):
    """Answers after a millisecond of work, so kills land while calls are in flight."""

    def init(self, trap):
        if trap:
            gs.trap_exit(True)
        return ("ok", 0)

    def handle_call(self, request, from_, n):
        gs.sleep(0.001)
        return ("reply", ("echo", request), n + 1)


def names():
    via = [("via", gs.Registry, (REG, f"v{i}")) for i in range(4)]
    plain = [f"storm-w{i}" for i in range(4)]
    return via, plain


def start_worker(name, trap):
    return Worker.start_link(trap, name=name)


class Middle(gs.Supervisor):
    def init(self, names_):
        return gs.supervise([{"id": i, "start": (start_worker, (n, i % 2 == 1)), "shutdown": 1.0}
                             for i, n in enumerate(names_)], max_restarts=100, max_seconds=1.0)


class Mute(logging.Handler):
    """Counts the runtime's log records instead of formatting them (restarts log an error each)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.levels = Counter()

    def emit(self, record):
        self.levels[record.levelname] += 1


@pytest.fixture
def muted():
    log = logging.getLogger("genserver_lite")
    handler = Mute()
    log.addHandler(handler)
    propagate, log.propagate = log.propagate, False
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.propagate = propagate


def whereis(name):
    """The pid under a name, or None, also while the Registry of a via name is being restarted."""
    try:
        return gs.whereis(name)
    except gs.NoProc:           # gs.whereis of a via name whose registry is not running (Elixir raises too)
        return None


def is_down(m):
    return type(m) is tuple and len(m) == 5 and m[0] == "DOWN"


class Caller(threading.Thread):
    """Calls random workers until told to stop; half the calls wait forever."""

    def __init__(self, n, targets, stop):
        super().__init__(name=f"storm caller {n}")
        self.n, self.targets, self.stop = n, targets, stop
        self.rng = random.Random(f"{SEED}/caller/{n}")
        self.outcomes = Counter()
        self.worst = {"timed": 0.0, "infinite": 0.0}
        self.errors = []

    def run(self):
        try:
            i = 0
            while not self.stop.is_set():
                i += 1
                target = self.rng.choice(self.targets)
                timeout = None if i % 2 else CALL_TIMEOUT
                t0 = time.monotonic()
                try:
                    reply = gs.call(target, i, timeout)
                    self.outcomes["reply" if reply == ("echo", i) else "wrong reply"] += 1
                except gs.CallTimeout:
                    self.outcomes["timeout"] += 1
                except gs.NoProc:
                    self.outcomes["noproc"] += 1
                    gs.sleep(0.001)          # the name is between a death and its restart
                except gs.Exit as e:
                    self.outcomes["exit"] += 1
                    self.outcomes[f"exit {e.reason!r}"[:40]] += 1
                took = time.monotonic() - t0
                kind = "infinite" if timeout is None else "timed"
                self.worst[kind] = max(self.worst[kind], took)
                if timeout is not None and took > timeout + gen._GRACE + MARGIN:
                    self.errors.append(f"a call with timeout {timeout} took {took:.2f} s")
            me = gs.self()._proc
            if me.aliases or me.monitoring or gs.flush():
                self.errors.append("a caller was left with an alias, a monitor or a message")
        except BaseException as e:  # noqa: BLE001 - reported to the test
            self.errors.append(f"caller crashed: {e!r}")


def storm_victims(top):
    """Every live process of the tree but its top supervisor."""
    out = []
    for pid in gs.processes():
        info = gs.info(pid)
        if info is not None and pid is not top and info["module"] != "shell":
            out.append(pid)
    return out


class Killer(threading.Thread):
    def __init__(self, top, stop):
        super().__init__(name="storm killer")
        self.top, self.stop = top, stop
        self.rng = random.Random(f"{SEED}/killer")
        self.kills = Counter()
        self.errors = []

    def run(self):
        try:
            while not self.stop.is_set():
                victims = storm_victims(self.top)
                if victims:
                    pid = self.rng.choice(victims)
                    kind = gs.info(pid)
                    reason = self.rng.choice(["kill", "kill", "shutdown", ("shutdown", "storm")])
                    gs.exit(pid, reason)
                    self.kills[(kind or {}).get("behaviour") or "process"] += 1
                gs.sleep(self.rng.uniform(0.002, 0.008))
        except BaseException as e:  # noqa: BLE001
            self.errors.append(f"killer crashed: {e!r}")


class Watcher(threading.Thread):
    """Monitors random processes and names; after the tree is stopped, counts the DOWNs."""

    def __init__(self, top, targets, stop, stopped):
        super().__init__(name="storm watcher")
        self.top, self.targets, self.stop, self.stopped = top, targets, stop, stopped
        self.rng = random.Random(f"{SEED}/watcher")
        self.refs = {}
        self.downs = Counter()
        self.no_registry = 0
        self.errors = []

    def run(self):
        try:
            while not self.stop.is_set():
                if self.rng.random() < 0.7:
                    victims = storm_victims(self.top)
                    target = self.rng.choice(victims) if victims else self.top
                else:
                    target = self.rng.choice(self.targets)          # a name: maybe unregistered right now
                try:
                    self.refs[gs.monitor(target)] = target
                except gs.NoProc:       # a via name while its Registry restarts: no monitor was set
                    self.no_registry += 1
                gs.sleep(self.rng.uniform(0.001, 0.004))
            self.refs[gs.monitor(self.top)] = self.top
            self.stopped.wait(LONG * 4)
            for _ in range(len(self.refs)):
                m = gs.receive(is_down, LONG)
                self.downs[m[1]] += 1
            extra = gs.flush()
            if extra:
                self.errors.append(f"unexpected messages after the last DOWN: {extra[:5]}")
        except gs.ReceiveTimeout:
            self.errors.append(f"only {sum(self.downs.values())} DOWNs for {len(self.refs)} monitors")
        except BaseException as e:  # noqa: BLE001
            self.errors.append(f"watcher crashed: {e!r}")


def test_kill_storm_every_call_ends_and_every_monitor_gets_its_down(muted, record_property):
    via, plain = names()
    top = gs.Supervisor.start_link([
        (gs.Registry, {"keys": "unique", "name": REG}),
        gs.child_spec((Middle, via), id="via"),
        gs.child_spec((Middle, plain), id="plain"),
    ], strategy="rest_for_one", max_restarts=1000, max_seconds=1.0)
    threads_before = set(threading.enumerate())
    stop, stopped = threading.Event(), threading.Event()
    callers = [Caller(n, via + plain, stop) for n in range(CALLERS)]
    killer = Killer(top, stop)
    watcher = Watcher(top, via + plain, stop, stopped)
    helpers = [*callers, killer, watcher]
    t0 = time.monotonic()
    for t in helpers:
        t.start()
    try:
        stop.wait(STORM_SECONDS)
    finally:
        stop.set()
        for t in [*callers, killer]:
            t.join(LONG * 4)
    hung = [t.name for t in callers if t.is_alive()]
    assert not hung, f"callers hung in a call: {hung} (seed {SEED})"
    elapsed = time.monotonic() - t0

    assert gs.alive(top), "the top supervisor gave up"
    top_restarts = sum(r["restarts"] for r in gs.Supervisor.describe(top)["children"])
    for name in via + plain:                       # the tree is whole again
        pid = wait_until(lambda: whereis(name), LONG)
        assert gs.call(pid, "after", LONG) == ("echo", "after")
    gs.stop(top, "shutdown")
    assert_receive(("EXIT", top, "shutdown"), LONG)
    stopped.set()
    watcher.join(LONG * 4)
    assert not watcher.is_alive()

    outcomes = sum((c.outcomes for c in callers), Counter())
    figures = {
        "seconds": round(elapsed, 2), "calls": sum(outcomes[k] for k in ("reply", "wrong reply", "timeout",
                                                                          "noproc", "exit")),
        "replies": outcomes["reply"], "exits": outcomes["exit"], "noproc": outcomes["noproc"],
        "timeouts": outcomes["timeout"], "kills": sum(killer.kills.values()),
        "kills_by_behaviour": dict(killer.kills), "top_restarts": top_restarts,
        "monitors": len(watcher.refs), "downs": sum(watcher.downs.values()),
        "monitor_of_via_name_while_registry_down": watcher.no_registry,
        "worst_timed_call_s": round(max(c.worst["timed"] for c in callers), 3),
        "worst_infinite_call_s": round(max(c.worst["infinite"] for c in callers), 3),
        "log_records": dict(muted.levels),
    }
    record_property("kill_storm", figures)
    print("\nkill storm: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    errors = [e for t in helpers for e in t.errors]
    assert not errors, f"seed {SEED}: " + "; ".join(errors[:10])
    assert outcomes["wrong reply"] == 0
    assert outcomes["reply"] > 0 and outcomes["exit"] > 0 and figures["kills"] > 0
    assert set(watcher.downs) == set(watcher.refs), "a monitor never got its DOWN"
    assert max(watcher.downs.values()) == 1, "a monitor got two DOWNs"
    wait_until(lambda: not [t for t in threading.enumerate()
                            if t not in threads_before and not _threads.released(t)], LONG)


# == children that ignore shutdown ============================================================================

class BlocksInTerminate(gs.GenServer):
    """Traps exits, so the supervisor's "shutdown" runs terminate, which then blocks."""

    def init(self, arg):
        how, report_to = arg
        gs.trap_exit(True)
        return ("ok", arg)

    def terminate(self, reason, state):
        how, report_to = state
        gs.send(report_to, ("terminating", gs.self(), reason))
        if how == "sleep":
            gs.sleep(60)
        elif how == "receive":
            gs.receive(lambda m: m == "never", 60)
        elif how == "c_call":
            time.sleep(1.5)          # a C call: no kill can interrupt it (see docs/reliability.md)
        gs.send(report_to, ("terminate finished", gs.self()))


def ignores_exits(report_to):
    """A plain process that traps exits and throws every message away, "shutdown" included."""
    gs.trap_exit(True)
    while True:
        m = gs.receive()
        gs.send(report_to, ("ignored", gs.self(), m))


def start_plain(report_to):
    return gs.spawn_link(ignores_exits, report_to)


def stubborn(how, me, i=0):
    if how == "loop":
        start = (start_plain, (me,))
    else:
        start = (BlocksInTerminate.start_link, ((how, me),))
    return {"id": f"{how}-{i}", "start": start, "shutdown": SHUTDOWN}


@pytest.mark.parametrize("how", ["sleep", "receive", "loop", "c_call"])
def test_a_child_that_ignores_shutdown_is_killed_when_its_time_is_up(how, muted, record_property):
    me = gs.self()
    sup = gs.Supervisor.start_link([stubborn(how, me)])
    pid = gs.Supervisor.which_children(sup)[0][1]
    ref = gs.monitor(pid)
    thread = pid._proc.thread
    t0 = time.monotonic()
    gs.Supervisor.terminate_child(sup, f"{how}-0")
    took = time.monotonic() - t0
    # it had its shutdown time, then was killed: dead to everyone from that moment on
    assert SHUTDOWN <= took <= SHUTDOWN + MARGIN, f"terminate_child took {took:.2f} s"
    assert_receive(("DOWN", ref, "process", pid, "killed"), 0)      # already there when terminate_child returns
    if how == "loop":
        assert_receive(("ignored", pid, ("EXIT", sup, "shutdown")), 0)
    else:
        assert_receive(("terminating", pid, "shutdown"), 0)
    assert gs.Supervisor.which_children(sup) == [(f"{how}-0", None, "worker", [
        "start_plain" if how == "loop" else "BlocksInTerminate"])]
    if how == "c_call":
        assert thread.is_alive()         # still inside time.sleep: its thread ends only when the call returns
    assert _threads.wait_released(thread, LONG)     # its process's code has stopped (the thread parks or ends)
    refute_receive(("terminate finished", pid), 0.05)               # a killed process sends nothing more
    record_property(f"shutdown_{how}_s", round(took, 3))
    print(f"\n{how}: killed after {took:.3f} s (shutdown {SHUTDOWN} s)")


class StubbornSup(gs.Supervisor):
    def init(self, arg):
        hows, me = arg
        return gs.supervise([stubborn(h, me) for h in hows])


def test_stopping_a_tree_of_stubborn_children_takes_their_shutdown_times_not_forever(muted, record_property):
    """Static supervisors stop children one by one (reverse order), a DynamicSupervisor all at once."""
    me = gs.self()
    hows = ["sleep", "receive", "loop"]
    top = gs.Supervisor.start_link([gs.child_spec((StubbornSup, (hows, me)), id="static")])
    static = gs.Supervisor.which_children(top)[0][1]
    pids = [row[1] for row in gs.Supervisor.which_children(static)]
    dynamic = gs.DynamicSupervisor.start_link()
    for i in range(8):
        gs.DynamicSupervisor.start_child(dynamic, stubborn(hows[i % 3], me, i))
    t0 = time.monotonic()
    gs.stop(top, "shutdown")
    took_static = time.monotonic() - t0
    assert all(not gs.alive(p) for p in pids) and not gs.alive(static)
    assert len(hows) * SHUTDOWN <= took_static <= len(hows) * SHUTDOWN + MARGIN
    t0 = time.monotonic()
    gs.stop(dynamic, "shutdown")
    took_dynamic = time.monotonic() - t0
    assert SHUTDOWN <= took_dynamic < 8 * SHUTDOWN / 2, f"dynamic children stopped one by one? {took_dynamic:.2f} s"
    assert gs.processes() == [me]
    record_property("stop_static_3_stubborn_s", round(took_static, 3))
    record_property("stop_dynamic_8_stubborn_s", round(took_dynamic, 3))
    print(f"\nstubborn trees: static (3 x {SHUTDOWN} s, in turn) stopped in {took_static:.3f} s; "
          f"dynamic (8 x {SHUTDOWN} s, at once) in {took_dynamic:.3f} s")


# == a kill that Python lost ====================================================================================

class Backlog(gs.GenServer):
    """Records every request it handles; "first" blocks in a C-level wait until the test releases it."""

    def init(self, arg):
        return ("ok", arg)

    def handle_call(self, request, from_, state):
        release, handled = state
        handled.append(request)
        if request == "first":
            release.wait(LONG)
        return ("reply", request, state)

    def handle_cast(self, request, state):
        state[1].append(request)
        return ("noreply", state)


def test_a_server_whose_kill_was_swallowed_handles_and_answers_nothing_more():
    """A kill is an asynchronous exception, and Python drops one that lands in a garbage-collector
    callback (the soak sees it: "Exception ignored in: WeakSet._remove ... Killed"). The process is
    dead to everyone, but its thread runs on. It must not go on to handle its backlog or send
    replies: as far as anyone can tell, it died when it was killed."""
    me = gs.self()
    release, handled = threading.Event(), []
    pid = Backlog.start((release, handled))

    def caller(request):
        try:
            gs.send(me, ("answer", request, gs.call(pid, request, None)))
        except gs.Exit as e:
            gs.send(me, ("exit", request, e.reason))
        gs.receive(lambda m: m == "check")
        gs.send(me, ("left", request, gs.flush()))
    callers = {r: gs.spawn(caller, r) for r in ["first"]}
    wait_until(lambda: handled == ["first"], LONG)
    callers["second"] = gs.spawn(caller, "second")
    gs.cast(pid, "third")
    wait_until(lambda: gs.info(pid)["message_queue_len"] == 2, LONG)
    thread = pid._proc.thread
    pid._proc.interruptible = False      # so the kill below is not delivered to the thread: as if Python lost it
    gs.exit(pid, "kill")
    for r in callers:
        assert_receive(("exit", r, "killed"), LONG)
    release.set()
    assert _threads.wait_released(thread, LONG)     # its process's code has stopped (the thread parks or ends)
    assert handled == ["first"]          # neither the queued call nor the cast was handled
    for r, c in callers.items():
        gs.send(c, "check")
        assert_receive(("left", r, []), LONG)     # and no late reply reached a caller


# == a kill while the process starts a thread ================================================================

SPAWN_AND_KILL = """
import os, random, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # one CPU: a new thread waits to run, so the window is wide
import genserver_lite as gs
from genserver_lite import _threads

def child():
    pass

def spawner():
    while True:
        gs.spawn(child)

rng = random.Random(int(sys.argv[1]))
for i in range(int(sys.argv[2])):
    pid = gs.spawn(spawner)
    thread = pid._proc.thread
    gs.sleep(rng.uniform(0, 0.003))
    gs.exit(pid, "kill")
    if not _threads.wait_released(thread, 2.0):
        print(f"the spawner killed at round {i + 1} never ended: stuck in Thread.start()", flush=True)
        os._exit(1)
print("every killed spawner ended", flush=True)
os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_a_process_killed_while_it_starts_a_thread_ends_and_the_thread_starts():
    """CPython 3.11 gives a thread being started its starter's thread id until it first runs, so a
    kill (an asynchronous exception sent by thread id) aimed at a process inside ``Thread.start()``
    also lands in the new thread, which dies before it says it started: the starter then waited
    forever (found by the kill storm under CPU load: three supervisors stuck restarting children).
    Run in a subprocess pinned to one CPU, where the window is wide enough to hit in a few rounds."""
    rounds = 300
    result = subprocess.run([sys.executable, "-c", SPAWN_AND_KILL, str(SEED), str(rounds)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
