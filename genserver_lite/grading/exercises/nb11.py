"""Exercises of notebook 11, the capstone (``solutions/11_capstone.ipynb``).

11.1 · Wire the service's tree, two levels as in the capstone: ``Service``
(the breaker, then ``Terminals``) with the strategy for independent parts
(``one_for_one``), and ``Terminals`` (the ``sessions`` Registry, then the
``buffers`` DynamicSupervisor) with the strategy for a dependency
(``rest_for_one``, the registry first); ``Session.start_link`` names a
session through the registry, and ``open_session`` starts one, transient,
under ``buffers``. The checks prove each strategy with kills: the breaker's
crash must leave the sessions alone, the registry's must restart ``buffers``
(whose sessions could not register anywhere), and the crash of ``buffers``
must leave the registry alone. The registry is killed with no session
open, so that a wrong strategy fails the same way on every run (with
sessions open, ``buffers`` races to restart them into the dead registry).
"""

from __future__ import annotations

import genserver_lite as gs

from ..core import Exercise
from ..probes import call, cast, expect, reason_text

__all__ = ["TREE"]

_WAIT = 1.0

TREE = Exercise("11.1", "Wire the service's tree", notebook="11_capstone", stars=2, minutes=25,
                names=["Session", "Terminals", "Service", "open_session"])


def _start(ns):
    """Start the learner's Service, unlinked; a failed start is one sentence. Returns its pid."""
    for name in ("Service", "Terminals"):
        cls = ns[name]
        if not isinstance(cls, type) or not issubclass(cls, gs.Supervisor):
            raise AssertionError(f"{name} must be a gs.Supervisor subclass, got {cls!r}")
    try:
        sup = ns["Service"].start(None, timeout=_WAIT)
    except gs.StartError as e:
        raise AssertionError(f"Service failed to start: {reason_text(e.reason)}") from e
    for name in ("breaker", "terminals", "sessions", "buffers"):
        if gs.whereis(name) is None:
            raise AssertionError(f"Service started, but nothing is registered as {name!r}")
    return sup


def _ids(sup) -> list:
    return [cid if isinstance(cid, str) else getattr(cid, "__name__", repr(cid))
            for cid, _pid, _type, _modules in gs.Supervisor.which_children(sup)]


def _open(ns, sid):
    try:
        pid = ns["open_session"](sid)
    except gs.StartError as e:
        raise AssertionError(f"open_session({sid!r}) failed: {reason_text(e.reason)}") from e
    if not isinstance(pid, gs.Pid):
        raise AssertionError(f"open_session({sid!r}) returned {pid!r}, not the session's pid")
    return pid


def _lookup(sid):
    return [pid for pid, _value in gs.Registry.lookup("sessions", sid)]


def _kill(sup, child) -> None:
    """Kill a child of ``sup`` (by id or pid) and return once ``sup`` has handled it."""
    gs.course.crash_child(sup, child, kill=True, timeout=_WAIT)


def _sessions_settled() -> None:
    """Answered after 'buffers' handled every exit it already got."""
    gs.DynamicSupervisor.count_children("buffers")


@TREE.check("Service starts the breaker, then Terminals; Terminals the registry, then 'buffers'",
            hint="Service's init returns gs.supervise([Breaker, Terminals], strategy=...); Terminals' returns "
                 "gs.supervise([(gs.Registry, {'keys': 'unique', 'name': 'sessions'}), (gs.DynamicSupervisor, "
                 "{'name': 'buffers'})], strategy=...): the registry first, since the sessions register in it")
def _children(ns):
    sup = _start(ns)
    expect(_ids(sup), ["Breaker", "Terminals"], "Service's children, in start order")
    expect(_ids("terminals"), ["sessions", "buffers"], "Terminals' children, in start order")
    expect(gs.info(gs.whereis("sessions"))["behaviour"], "Registry", "what runs as 'sessions'")
    expect(gs.info(gs.whereis("buffers"))["behaviour"], "DynamicSupervisor", "what runs as 'buffers'")


@TREE.check("open_session starts a session under 'buffers', found by its id through the registry",
            hint="Session.start_link names the process ('via', gs.Registry, ('sessions', session_id)); "
                 "open_session starts it with gs.DynamicSupervisor.start_child('buffers', ...)")
def _opens(ns):
    _start(ns)
    pids = {sid: _open(ns, sid) for sid in ("s1", "s2")}
    for sid, pid in pids.items():
        expect(_lookup(sid) == [pid], True, f"Registry.lookup('sessions', {sid!r}) is [the pid open_session "
                                            f"returned]")
        expect(call(("via", gs.Registry, ("sessions", sid)), "ping"), ("pong", sid),
               f"a call to session {sid!r} by its via name")
    children = {pid for _id, pid, _type, _modules in gs.DynamicSupervisor.which_children("buffers")}
    expect(set(pids.values()) <= children, True, "the sessions are children of 'buffers'")


@TREE.check("sessions are transient: a crash brings one back under its id, a logout closes it",
            hint="open it with gs.child_spec((Session, session_id), restart='transient'): a crash is "
                 "restarted, a normal exit is not")
def _transient(ns):
    _start(ns)
    s1, s2 = _open(ns, "s1"), _open(ns, "s2")
    _kill("buffers", s1)
    now = _lookup("s1")
    if not now:
        raise AssertionError("after s1 crashed, no process is registered as 's1': 'buffers' did not "
                             "restart it")
    expect(now[0] is not s1, True, "s1 is a new process after its crash")
    expect(_lookup("s2") == [s2], True, "s2 kept its process")
    ref = gs.monitor(s2)
    cast(("via", gs.Registry, ("sessions", "s2")), "logout")
    gs.receive(lambda m: type(m) is tuple and m[:2] == ("DOWN", ref), timeout=_WAIT)
    _sessions_settled()
    expect(_lookup("s2"), [], "the processes registered as 's2' after it logged out")


@TREE.check("a crash of the breaker restarts the breaker only: every session keeps its process",
            hint="Service's strategy: the breaker and Terminals do not depend on each other's processes "
                 "(sessions find the breaker by name), so one_for_one")
def _breaker_crash(ns):
    sup = _start(ns)
    pids = {sid: _open(ns, sid) for sid in ("s1", "s2")}
    breaker = gs.whereis("breaker")
    _kill(sup, breaker)
    if gs.whereis("breaker") in (None, breaker):
        raise AssertionError("the breaker was killed and Service did not start a new one")
    for sid, pid in pids.items():
        expect(_lookup(sid) == [pid], True, f"session {sid!r} kept its process after the breaker crashed")


@TREE.check("a crash of the registry restarts 'buffers' after it, and sessions open again",
            hint="Terminals' strategy: 'rest_for_one' with the registry first restarts a crashed child and "
                 "every child started after it")
def _registry_crash(ns):
    _start(ns)
    buffers = gs.whereis("buffers")
    _kill("terminals", "sessions")
    if gs.whereis("buffers") is buffers:
        raise AssertionError("the registry was killed and 'buffers' kept its process: the sessions in it "
                             "died with the registry, and their restarts would find no registry")
    pid = _open(ns, "s1")
    expect(_lookup("s1") == [pid], True, "a session opened after the registry's restart is registered")


@TREE.check("a crash of 'buffers' leaves the registry running",
            hint="Terminals' strategy is not one_for_all: the registry does not depend on 'buffers', so it "
                 "must keep its process when 'buffers' restarts")
def _buffers_crash(ns):
    _start(ns)
    registry = gs.whereis("sessions")
    _kill("terminals", "buffers")
    expect(gs.whereis("sessions") is registry, True, "the registry kept its process after 'buffers' crashed")
    expect(gs.whereis("buffers") is not None, True, "'buffers' runs again")
