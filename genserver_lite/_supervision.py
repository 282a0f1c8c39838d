"""What every supervisor does, shared by Supervisor and DynamicSupervisor (OTP ``supervisor.erl`` internals).

* start a child from its spec, and make sure it is linked to its supervisor;
* shut a child down: monitor it, unlink, send ``"shutdown"`` (or ``"kill"``
  for ``"brutal_kill"``), wait its ``shutdown`` seconds, then kill;
* count restarts against the intensity, OTP's rule: a restart at time *t*
  is allowed while at most ``max_restarts`` restarts (this one included)
  fall within ``[t - max_seconds, t]``; past it, the supervisor shuts every
  child down and exits with ``"shutdown"``. Time comes from the timer clock,
  so ``gs.testing.FakeClock`` drives it;
* keep a bounded history of events, per-child restart counts, and push each
  event to the tracer and to subscribers (the live panel).

Everything here runs inside the supervisor's own process.

Logging follows Elixir's defaults: the crashed server writes the crash
report (an error); the supervisor's report of a routine restart is logged at
INFO, hidden unless asked for (Elixir's ``handle_sasl_reports: false``); a
failed restart, a child that would not stop, and giving up (restart
intensity reached) are errors.
"""

from __future__ import annotations

import itertools
import time
from collections import deque

from . import _kernel as k
from . import timer
from ._kernel import Killed, Pid
from .errors import Exit, ReceiveTimeout, StartError
from .genserver import GenServer, is_normal_exit
from .process import demonitor_process, drain, drop, link, monitor_process, receive, unlink
from .process import exit as exit_signal

HISTORY = 500


def now() -> float:
    return timer._clock.now()


class Child:
    """A supervisor's record of one child: its spec, its pid, its status and restart count."""

    __slots__ = ("id", "start", "restart", "shutdown", "type", "modules", "pid", "status",
                 "restarts", "key", "last_pid")
    _keys = itertools.count(1)

    def __init__(self, spec: dict):
        self.id = spec["id"]
        self.start = spec["start"]
        self.restart = spec["restart"]
        self.shutdown = spec["shutdown"]
        self.type = spec["type"]
        self.modules = spec["modules"]
        self.pid = None            # Pid, None (not running) or "restarting"
        self.status = "terminated"  # running | restarting | terminated | ignored
        self.restarts = 0
        self.key = next(Child._keys)
        self.last_pid = None       # the pid that died, while the child is "restarting"

    def running(self) -> bool:
        return type(self.pid) is Pid

    def spec(self) -> dict:
        return {"id": self.id, "start": self.start, "restart": self.restart,
                "shutdown": self.shutdown, "type": self.type, "modules": self.modules}

    def row(self) -> dict:
        return {"id": self.id, "pid": self.pid, "status": self.status, "type": self.type,
                "restart": self.restart, "shutdown": self.shutdown, "restarts": self.restarts,
                "modules": list(self.modules), "key": self.key}


class State:
    """A supervisor's state (mutated in place by the callbacks, and returned, as GenServer asks)."""

    def __init__(self, kind: str, module: str, strategy: str, max_restarts: int, max_seconds: float):
        self.kind = kind
        self.module = module
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.children: list[Child] = []
        self.restart_times: deque = deque()
        self.history: deque = deque(maxlen=HISTORY)
        self.seq = itertools.count(1)
        self.subscribers: dict = {}
        self.extra_arguments = ()
        self.max_children = None

    def find_pid(self, pid) -> Child | None:
        for c in self.children:
            if c.pid is pid:
                return c
        return None

    def find_id(self, id_) -> Child | None:
        for c in self.children:
            if c.id == id_:
                return c
        return None


def start_process(child: Child, extra_args=()) -> Pid | None:
    """Run a child's start function in the supervisor: its Pid, None for ignore, or StartError."""
    fn, args = child.start
    try:
        result = fn(*extra_args, *args)
    except (Killed, StartError):
        raise
    except Exit as e:
        raise StartError(e.reason, f"child {child_name(child.id)} failed to start: {e.reason!r}") from e
    except Exception as e:  # noqa: BLE001 - a start function that raises is a failed start (OTP)
        raise StartError(e, f"child {child_name(child.id)} failed to start: {e!r}") from e
    if result is None:
        return None
    if type(result) is not Pid:
        raise StartError(("bad_start_return", result),
                         f"child {child_name(child.id)}: its start function returned {result!r}; "
                         f"it must return a Pid, or None to ignore")
    if k.current() not in result._proc.links and result._proc.alive:
        link(result)   # OTP requires start functions to link; we make sure, so no child is unwatched
    return result


def shutdown_process(pid: Pid, shutdown) -> object:
    """Stop a child the OTP way and wait for it to be gone; returns its exit reason."""
    return await_shutdown(*begin_shutdown(pid, shutdown))


def begin_shutdown(pid: Pid, shutdown) -> tuple:
    """Monitor the child, unlink, send ``"shutdown"`` (``"kill"`` for brutal_kill): OTP ``monitor_child``.

    If the child had already died, its EXIT is in our mailbox: take its
    reason from there (the DOWN will only say ``"noproc"``). Returns what
    :func:`await_shutdown` needs; the kill deadline starts now.
    """
    me = k.current()
    ref = monitor_process(me, pid._proc)
    unlink(pid)
    drain(me)
    early = [m[2] for m in me.saved if type(m) is tuple and len(m) == 3 and m[0] == "EXIT" and m[1] is pid]
    if early:
        drop(me, lambda m: type(m) is tuple and len(m) == 3 and m[0] == "EXIT" and m[1] is pid)
    exit_signal(pid, "kill" if shutdown == "brutal_kill" else "shutdown")
    deadline = None if shutdown in ("brutal_kill", "infinity") else time.monotonic() + shutdown
    return pid, ref, deadline, early


def await_shutdown(pid: Pid, ref, deadline, early) -> object:
    """Wait for the child's DOWN until ``deadline``, then kill it; returns its exit reason."""
    me = k.current()

    def is_down(m):
        return type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is ref

    try:
        try:
            got = receive(is_down, None if deadline is None else max(0.0, deadline - time.monotonic()))[4]
        except ReceiveTimeout:      # it ignored "shutdown" for too long
            exit_signal(pid, "kill")
            got = receive(is_down)[4]
    finally:
        demonitor_process(me, ref)
    return early[0] if early else got


def child_name(id_) -> str:
    return id_.__name__ if isinstance(id_, type) else repr(id_)


class SupervisorServer(GenServer):
    """The GenServer half shared by Supervisor and DynamicSupervisor."""

    behaviour_name = "Supervisor"

    # -- events ------------------------------------------------------------------

    def record(self, state: State, event: str, child: Child | None, pid=None, reason=None,
               action: str = "none", siblings=()) -> dict:
        ev = {"seq": next(state.seq), "time": now(), "event": event,
              "id": child.id if child is not None else None,
              "child": child.key if child is not None else None,   # tells apart children sharing an id
              "pid": pid, "reason": reason,
              "action": action, "siblings": list(siblings),
              "max_restarts": state.max_restarts, "max_seconds": state.max_seconds}
        state.history.append(ev)
        me = k.current()
        if k._tracer is not None:
            k._tracer("supervisor", me.pid, pid, ev)
        for sub in list(state.subscribers.values()):
            k.deliver(me.pid, sub._proc, ("supervisor_event", me.pid, ev))
        return ev

    def add_restart(self, state: State) -> bool:
        """Count a restart; False if it takes the supervisor past its intensity."""
        t = now()
        times = state.restart_times
        while times and times[0] < t - state.max_seconds:
            times.popleft()
        times.append(t)
        return len(times) <= state.max_restarts

    # -- starting and stopping children -------------------------------------------------

    def start_child_record(self, state: State, child: Child, event: str = "started") -> Pid | None:
        pid = start_process(child, state.extra_arguments)
        child.pid = pid
        child.status = "running" if pid is not None else "ignored"
        self.record(state, event, child, pid=pid, action="start" if pid else "none")
        return pid

    def stop_child(self, state: State, child: Child) -> None:
        if not child.running():
            child.pid = None
            return
        self.child_stopped(state, child, shutdown_process(child.pid, child.shutdown))

    def child_stopped(self, state: State, child: Child, got) -> None:
        """Book a child that was shut down and exited with ``got``."""
        pid = child.pid
        expected = "killed" if child.shutdown == "brutal_kill" else "shutdown"
        if not k._is(got, expected) and not is_normal_exit(got):
            k.log.error("Supervisor %r (%s): child %s (%r) was shut down but exited with reason %r",
                        k.current().pid, state.module, child_name(child.id), pid, got)
        child.pid = None
        child.status = "terminated"
        self.record(state, "terminated", child, pid=pid, reason=got, action="shutdown")

    def stop_all(self, state: State) -> None:
        for child in reversed(list(state.children)):
            if child.running():
                self.stop_child(state, child)

    # -- the callbacks both kinds share -----------------------------------------------------

    def handle_call(self, request, from_, state):
        match request:
            case "describe":
                return ("reply", ("ok", self.describe(state)), state)
            case "subscribe":
                ref = k.Ref()
                state.subscribers[ref] = from_[0]
                return ("reply", ("ok", ref), state)
            case ("unsubscribe", ref):
                state.subscribers.pop(ref, None)
                return ("reply", ("ok", None), state)
            case "count_children":
                kids = state.children
                return ("reply", ("ok", {
                    "specs": len(kids),
                    "active": sum(1 for c in kids if c.running()),
                    "supervisors": sum(1 for c in kids if c.type == "supervisor"),
                    "workers": sum(1 for c in kids if c.type == "worker")}), state)
        return self.handle_request(request, from_, state)

    def handle_request(self, request, from_, state):
        return ("reply", ("error", ValueError(f"unknown supervisor request {request!r}")), state)

    def handle_info(self, msg, state):
        if type(msg) is tuple and len(msg) == 3 and msg[0] == "EXIT":
            child = state.find_pid(msg[1])
            if child is not None:
                return self.child_exited(state, child, msg[2])
            return ("noreply", state)    # an EXIT from a process that is no longer our child
        if type(msg) is tuple and len(msg) == 2 and msg[0] == "$try_again":
            child = next((c for c in state.children if c.key == msg[1]), None)
            if child is not None and child.pid == "restarting":
                return self.try_again(state, child)
            return ("noreply", state)
        return super().handle_info(msg, state)

    def terminate(self, reason, state):
        self.stop_all(state)

    def describe(self, state: State) -> dict:
        me = k.current()
        return {"pid": me.pid, "name": me.name, "module": state.module, "kind": state.kind,
                "strategy": state.strategy, "max_restarts": state.max_restarts,
                "max_seconds": state.max_seconds, "restarts": list(state.restart_times),
                "children": [c.row() for c in state.children], "history": list(state.history)}

    # -- restarts ----------------------------------------------------------------------------

    def wont_restart(self, child: Child, reason) -> bool:
        return child.restart == "temporary" or (child.restart == "transient" and is_normal_exit(reason))

    def child_exited(self, state: State, child: Child, reason):
        if self.wont_restart(child, reason):
            self.record(state, "exited", child, pid=child.pid, reason=reason, action="none")
            self.forget(state, child)
            return ("noreply", state)
        if not self.add_restart(state):
            return self.escalate(state, child, reason)
        if not is_normal_exit(reason):
            k.log.info("Supervisor %r (%s): child %s (%r) exited with reason %r; restarting",
                        k.current().pid, state.module, child_name(child.id), child.pid, reason)
        group = self.restart_group(state, child)
        self.record(state, "exited", child, pid=child.pid, reason=reason, action="restart",
                    siblings=[c.id for c in group if c is not child and c.running()])
        child.last_pid = child.pid
        child.pid = "restarting"
        child.status = "restarting"
        self.restart(state, child, group)
        return ("noreply", state)

    def try_again(self, state: State, child: Child):
        if not self.add_restart(state):
            return self.escalate(state, child, "restart_failed")
        self.restart(state, child, self.restart_group(state, child))
        return ("noreply", state)

    def escalate(self, state: State, child: Child, reason):
        k.log.error("Supervisor %r (%s) reached its maximum restart intensity (%d restarts in %s s); "
                    "shutting down, last exit: child %s with reason %r", k.current().pid, state.module,
                    state.max_restarts, state.max_seconds, child_name(child.id), reason)
        self.record(state, "exited", child, pid=child.pid if child.running() else None, reason=reason,
                    action="escalate")
        if child.running() or child.pid == "restarting":
            child.pid = None
            child.status = "terminated"
        self.record(state, "intensity_reached", child, reason=reason, action="shutdown",
                    siblings=[c.id for c in state.children if c.running()])
        return ("stop", "shutdown", state)

    def restart_group(self, state: State, child: Child) -> list:
        """The children the strategy restarts along with ``child``, in start order."""
        return [child]

    def restart(self, state: State, child: Child, group: list) -> None:
        """Take the group down (newest first), then start it again in order; retry on failure."""
        for sib in reversed(group):
            if sib is not child and sib.running():
                self.stop_child(state, sib)
                if sib.restart == "temporary":
                    self.forget(state, sib)
        for c in group:
            if c is not child and (c.restart == "temporary" or c not in state.children):
                continue
            try:
                pid = start_process(c, state.extra_arguments)
            except StartError as e:
                k.log.error("Supervisor %r (%s): child %s failed to restart with reason %r; trying again",
                            k.current().pid, state.module, child_name(c.id), e.reason)
                self.record(state, "start_failed", c, reason=e.reason, action="retry")
                for rest in group[group.index(c):]:
                    if rest in state.children and rest.restart != "temporary":
                        rest.pid, rest.status = "restarting", "restarting"
                k.deliver(k.current().pid, k.current(), ("$try_again", c.key))
                return
            c.restarts += 1
            c.pid = pid
            c.status = "running" if pid is not None else "ignored"
            self.record(state, "restarted", c, pid=pid, action="restart")
            if pid is None:
                self.restart_ignored(state, c)

    def restart_ignored(self, state: State, child: Child) -> None:
        """A restart answered ignore: a Supervisor keeps the stopped spec, as OTP does."""

    def forget(self, state: State, child: Child) -> None:
        """A child that will not be restarted: temporary ones lose their spec, others keep it."""
        if child.restart == "temporary":
            if child in state.children:
                state.children.remove(child)
        child.pid = None
        child.status = "terminated"


# -- the client side shared by both -------------------------------------------------------

def sup_call(sup, request):
    """Ask a supervisor; it answers ("ok", value) or ("error", exception), as OTP's {error, R}."""
    from .gen import call
    kind, value = call(sup, request, None)
    if kind == "ok":
        return value
    raise value
