"""Ctrl-C in the notebook: a real SIGINT in the main thread while it waits leaves the runtime usable.

A learner's "interrupt kernel" is a SIGINT to the kernel's main thread, which
Python turns into a KeyboardInterrupt wherever that thread is: usually blocked
in one of the runtime's waits. Each test here delivers a real SIGINT with
``signal.pthread_kill`` at a point where the main thread waits in
``gs.call``, ``gs.receive``, ``gs.Task.await_``, ``gs.Supervisor.start_link``
or ``gs.stop``, and then checks what OTP's guarantees ask of what is left:

* no message is lost: whatever the wait had taken but not consumed is still
  in the mailbox, in order;
* nothing is left behind: no reply alias, no monitor, no late reply, DOWN,
  ``$ack`` or EXIT turning up in the mailbox later;
* a half-done operation is abandoned the way its timeout abandons it (a
  start kills the half-started process; a stop still stops the server);
* the runtime still works: a new call answers, and ``gs.reset()`` is clean.

``tests/test_genserver.py`` has the first, simplest case (a call whose server
never answers); this file covers the other waits, messages arriving with the
interrupt, and a storm of interrupts during fast calls.
"""

import random
import signal
import threading
import time

import pytest

import genserver_lite as gs
from genserver_lite.testing import assert_receive, refute_receive

LONG = 5.0
REPEAT = 30               # interrupts per deterministic case: each one landing at the same wait
STORM_SECONDS = 1.0       # the Ctrl-C storm over fast calls
SEED = 20240611


class CtrlC:
    """Ctrl-C for a test: ``arm()`` in the main thread, then ``press()`` from any thread.

    ``press()`` sends a real SIGINT to the main thread and, like a learner
    whose first Ctrl-C did not take, presses again every 50 ms until the
    main thread has raised KeyboardInterrupt. Pressing again is needed
    because of a CPython race no library can close: a SIGINT that arrives
    between a thread releasing the GIL and entering its blocking wait does
    not interrupt the wait; it is handled when the wait ends. The handler
    raises once per ``arm()``; a second press that crossed the first is
    counted in ``extra``, not raised.
    """

    def __init__(self):
        self.main = threading.main_thread().ident
        self.armed = False
        self.delivered = threading.Event()
        self.presses = 0
        self.extra = 0

    def handler(self, signum, frame):
        if not self.armed:
            self.extra += 1
            return
        self.armed = False
        self.delivered.set()
        raise KeyboardInterrupt

    def arm(self):
        self.delivered.clear()
        self.armed = True

    def press(self):
        deadline = time.monotonic() + LONG
        while True:
            self.presses += 1
            signal.pthread_kill(self.main, signal.SIGINT)
            if self.delivered.wait(0.05):
                return
            if time.monotonic() > deadline:
                raise AssertionError("the main thread never took the Ctrl-C")


@pytest.fixture
def ctrl_c():
    """A :class:`CtrlC` whose handler is installed for the test (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT is delivered to the main thread only")
    c = CtrlC()
    old = signal.signal(signal.SIGINT, c.handler)
    try:
        yield c
    finally:
        gs.reset()          # ends any process that could still press
        signal.signal(signal.SIGINT, old)


def clean(me):
    """What an interrupted wait must leave in the caller: no alias, no monitor, an empty mailbox."""
    p = me._proc
    assert p.aliases == {}, f"stale reply aliases: {p.aliases}"
    assert gs.info(me)["monitors"] == [], "a stale monitor"
    assert gs.flush() == []


class Noter(gs.GenServer):
    """handle_call sends the caller a note, then Ctrl-C, and answers only when told (a cast)."""

    def init(self, ctrl_c):
        return ("ok", {"ctrl_c": ctrl_c, "waiting": None})

    def handle_call(self, request, from_, state):
        gs.send(from_[0], ("note", request))             # a message that lands with the interrupt
        state["ctrl_c"].press()
        return ("noreply", {**state, "waiting": from_})

    def handle_cast(self, request, state):
        gs.reply(state["waiting"], ("late", request))    # the caller gave up: this must be dropped
        gs.send(state["waiting"][0], ("replied", request))
        return ("noreply", {**state, "waiting": None})


def test_ctrl_c_during_a_call_keeps_the_message_that_came_with_it(ctrl_c):
    me = gs.self()
    pid = Noter.start(ctrl_c)
    for i in range(REPEAT):
        timeout = None if i % 2 else LONG                # infinite waits too: only the interrupt ends them
        ctrl_c.arm()
        with pytest.raises(KeyboardInterrupt):
            gs.call(pid, i, timeout)
        assert me._proc.aliases == {} and gs.info(me)["monitors"] == []
        assert gs.info(pid)["monitored_by"] == []
        gs.cast(pid, i)                                  # the server now answers the abandoned call
        assert assert_receive(lambda m: True, LONG) == ("note", i)   # kept, and first: order holds
        assert assert_receive(lambda m: True, LONG) == ("replied", i)
        assert gs.flush() == []                          # the late reply was dropped
    assert gs.sys.get_state(pid)["waiting"] is None      # the runtime still works


def test_ctrl_c_during_a_selective_receive_keeps_every_message_in_order(ctrl_c):
    me = gs.self()

    def sender(n):
        for round_ in range(REPEAT):
            gs.receive(lambda m: m == ("go", round_))
            for j in range(n):
                gs.send(me, (round_, j))                 # none of them matches the receive below
            ctrl_c.press()
    pid = gs.spawn(sender, 5)
    for round_ in range(REPEAT):
        ctrl_c.arm()
        gs.send(pid, ("go", round_))
        with pytest.raises(KeyboardInterrupt):
            gs.receive(lambda m: m == "never", None if round_ % 2 else LONG)
        assert gs.flush() == [(round_, j) for j in range(5)]
    clean(me)


def test_ctrl_c_during_a_plain_receive_loses_nothing(ctrl_c):
    """A receive with no pattern takes the first message; the interrupt either wins (the message
    stays queued) or loses (the receive returned it): the message is never simply gone."""
    me = gs.self()

    def sender():
        for round_ in range(REPEAT):
            gs.receive(lambda m: m == ("go", round_))
            gs.send(me, ("m", round_))
            ctrl_c.press()
    pid = gs.spawn(sender)
    for round_ in range(REPEAT):
        ctrl_c.arm()
        gs.send(pid, ("go", round_))
        got = []
        with pytest.raises(KeyboardInterrupt):
            got.append(gs.receive(timeout=LONG))
            gs.receive(lambda m: m == "never", LONG)     # if the message won, the interrupt lands here
        got += gs.flush()
        assert got == [("m", round_)]
    clean(me)


@pytest.mark.parametrize("spawn", [gs.spawn, gs.spawn_link, gs.spawn_monitor, gs.Task.async_],
                         ids=["spawn", "spawn_link", "spawn_monitor", "Task.async_"])
def test_ctrl_c_during_spawn_leaves_no_orphan(ctrl_c, spawn):
    """A new process that presses Ctrl-C at once: the interrupt lands while ``spawn`` waits for
    the thread to start. Nobody will ever hold that pid, so the process must not live on, and its
    link or monitor must not send the caller an EXIT or a DOWN."""
    me = gs.self()
    in_spawn = 0
    for _ in range(REPEAT):
        ctrl_c.arm()
        got = None
        with pytest.raises(KeyboardInterrupt):
            got = spawn(ctrl_c.press)
            gs.receive(lambda m: m == "never", LONG)   # the interrupt may land here instead
        if got is None:
            in_spawn += 1
            assert gs.processes() == [me]
        else:
            pid = got if type(got) is gs.Pid else got[0] if type(got) is tuple else got.pid
            ref = gs.monitor(pid)
            gs.exit(pid, "kill")
            assert_receive(("DOWN", ref, "process", pid, ...), LONG)
            gs.flush()
        assert gs.info(me)["links"] == [] and gs.info(me)["monitors"] == []
        refute_receive(lambda m: True, 0.01)
    assert me._proc.aliases == {}
    print(f"\n{spawn.__qualname__}: {in_spawn} of {REPEAT} interrupts landed inside the spawn")


class Echo(gs.GenServer):
    def init(self, _):
        return ("ok", 0)

    def handle_call(self, request, from_, n):
        return ("reply", ("echo", request), n + 1)


def test_a_storm_of_ctrl_c_over_fast_calls_leaves_nothing_behind(ctrl_c, record_property):
    """SIGINTs at random moments while the main thread makes fast calls. Each call is armed, so
    an interrupt lands anywhere in the call's own code (its send, its wait, its cleanup), never
    in the test's bookkeeping or pytest's; a signal between calls is counted, not raised."""
    me = gs.self()
    pid = Echo.start()
    stop = threading.Event()
    sent = []

    def storm():
        rng = random.Random(SEED)
        while not stop.wait(rng.uniform(0.0005, 0.004)):
            signal.pthread_kill(ctrl_c.main, signal.SIGINT)
            sent.append(1)
    thread = threading.Thread(target=storm, name="ctrl-c storm")
    calls = interrupted = 0
    t0 = time.monotonic()
    thread.start()
    try:
        while time.monotonic() - t0 < STORM_SECONDS:
            try:
                ctrl_c.arm()
                reply = gs.call(pid, calls, None if calls % 2 else LONG)
                ctrl_c.armed = False
                assert reply == ("echo", calls)
                calls += 1
            except KeyboardInterrupt:
                interrupted += 1
    finally:
        ctrl_c.armed = False
        stop.set()
        thread.join()
    record_property("ctrl_c_storm", {"calls": calls, "interrupts": interrupted, "signals": len(sent)})
    print(f"\nCtrl-C storm: {len(sent)} SIGINTs, {interrupted} landed in a call, "
          f"{calls} calls answered in {STORM_SECONDS} s")
    assert interrupted + ctrl_c.extra <= len(sent) and interrupted > 0 and calls > 0
    clean(me)
    assert gs.info(pid)["monitored_by"] == []
    assert gs.call(pid, "after", LONG) == ("echo", "after")
    assert gs.sys.get_state(pid) >= calls + 1      # every answered call was handled (and some interrupted ones)


def test_ctrl_c_during_task_await_forgets_the_task_as_a_timeout_does(ctrl_c):
    me = gs.self()

    def work(n):
        gs.receive(lambda m: m == "go")
        ctrl_c.press()
        gs.receive(lambda m: m == "finish")
        gs.send(me, ("finished", n))
        return n * 10
    for i in range(REPEAT // 3):
        task = gs.Task.async_(work, i)
        ctrl_c.arm()
        gs.send(task.pid, "go")
        with pytest.raises(KeyboardInterrupt):
            gs.Task.await_(task, None if i % 2 else LONG)
        assert task.ref not in me._proc.aliases and gs.info(me)["monitors"] == []
        gs.send(task.pid, "finish")                      # the task runs on, and finishes
        assert_receive(("finished", i), LONG)
        # its result and DOWN are dropped; its link's EXIT is what a trapping owner always gets
        assert_receive(("EXIT", task.pid, "normal"), LONG)
        refute_receive(lambda m: True, 0.05)
        assert gs.Task.await_(gs.Task.async_(lambda: "fresh"), LONG) == "fresh"
        assert_receive(("EXIT", ..., "normal"), LONG)
    clean(me)


class Slow(gs.GenServer):
    """A child whose init tells the notebook its pid, sends Ctrl-C and never finishes."""

    def init(self, arg):
        main_pid, ctrl_c = arg
        gs.send(main_pid, ("child", gs.self()))
        ctrl_c.press()
        gs.receive(lambda m: m == "never")


class Quick(gs.GenServer):
    def init(self, arg):
        return ("ok", arg)


def test_ctrl_c_during_supervisor_start_link_with_a_slow_child_abandons_the_start(ctrl_c):
    me = gs.self()
    for i in range(REPEAT // 3):
        ctrl_c.arm()
        with pytest.raises(KeyboardInterrupt):
            gs.Supervisor.start_link([gs.child_spec(Quick, id="quick"), (Slow, (me, ctrl_c))])
        # the half-started supervisor and its children are killed, as a start timeout does
        child = assert_receive(("child", ...), LONG)[1]
        ref = gs.monitor(child)
        assert_receive(("DOWN", ref, "process", child, ...), LONG)
        assert gs.processes() == [me]
        assert gs.info(me)["links"] == []
        clean(me)                                        # no $ack, DOWN or EXIT turns up later
        sup = gs.Supervisor.start_link([gs.child_spec(Quick, id="quick")])
        assert [row[0] for row in gs.Supervisor.which_children(sup)] == ["quick"]
        gs.stop(sup, "shutdown")
        assert_receive(("EXIT", sup, "shutdown"), LONG)   # the shell traps exits: its link says so
    clean(me)


class SlowStop(gs.GenServer):
    """terminate sends Ctrl-C, then waits to be told to finish."""

    def init(self, ctrl_c):
        return ("ok", ctrl_c)

    def terminate(self, reason, ctrl_c):
        ctrl_c.press()
        gs.receive(lambda m: m == "finish", LONG)


def test_ctrl_c_during_stop_leaves_no_stray_down_and_the_server_still_stops(ctrl_c):
    me = gs.self()
    for i in range(REPEAT // 3):
        pid = SlowStop.start(ctrl_c)
        ctrl_c.arm()
        with pytest.raises(KeyboardInterrupt):
            gs.stop(pid, "normal", None if i % 2 else LONG)
        assert gs.info(me)["monitors"] == []
        ref = gs.monitor(pid)
        gs.send(pid, "finish")
        assert_receive(("DOWN", ref, "process", pid, "normal"), LONG)   # the stop was already asked
        refute_receive(lambda m: True, 0.05)                              # and nothing else arrives
    clean(me)


def test_after_interrupts_reset_is_clean_and_the_runtime_starts_fresh(ctrl_c):
    me = gs.self()
    pid = Noter.start(ctrl_c)
    ctrl_c.arm()
    with pytest.raises(KeyboardInterrupt):
        gs.call(pid, "x", None)
    gs.reset()
    assert gs.processes() == []
    fresh = Echo.start()
    assert gs.call(fresh, 1, LONG) == ("echo", 1)
    assert gs.self() is not me                           # a new shell after reset
    clean(gs.self())
