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


def _shown(pids) -> str:
    return "nothing" if not pids else ", ".join(map(repr, pids))


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
        found = _lookup(sid)
        if found != [pid]:
            raise AssertionError(f"open_session({sid!r}) returned {pid!r}, but the registry 'sessions' has "
                                 f"{_shown(found)} under {sid!r}: does Session.start_link pass "
                                 f"name=('via', gs.Registry, ('sessions', session_id))?")
        expect(call(("via", gs.Registry, ("sessions", sid)), "ping"), ("pong", sid),
               f"a call to session {sid!r} by its via name")
    children = {pid for _id, pid, _type, _modules in gs.DynamicSupervisor.which_children("buffers")}
    strays = sorted(sid for sid, pid in pids.items() if pid not in children)
    if strays:
        raise AssertionError(f"session(s) {', '.join(map(repr, strays))} run but are not children of 'buffers': "
                             f"start them with gs.DynamicSupervisor.start_child('buffers', ...)")


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
    if now[0] == s1:
        raise AssertionError(f"s1 was killed, yet {s1!r}, its old pid, is still registered as 's1'")
    if _lookup("s2") != [s2]:
        raise AssertionError(f"s2 lost its process when s1 crashed: registered as 's2' now: "
                             f"{_shown(_lookup('s2'))}, expected {s2!r}")
    ref = gs.monitor(s2)
    cast(("via", gs.Registry, ("sessions", "s2")), "logout")
    gs.receive(lambda m: type(m) is tuple and m[:2] == ("DOWN", ref), timeout=_WAIT)
    _sessions_settled()
    if _lookup("s2"):
        raise AssertionError(f"s2 logged out (it stopped with 'normal') and 'buffers' started it again "
                             f"({_shown(_lookup('s2'))}): a permanent child comes back even after a normal exit")


@TREE.check("a crash of the breaker restarts the breaker only: every session keeps its process",
            hint="Service's strategy: the breaker and Terminals do not depend on each other's processes "
                 "(sessions find the breaker by name), so one_for_one")
def _breaker_crash(ns):
    sup = _start(ns)
    pids = {sid: _open(ns, sid) for sid in ("s1", "s2")}
    breaker, terminals = gs.whereis("breaker"), gs.whereis("terminals")
    _kill(sup, breaker)
    if gs.whereis("breaker") in (None, breaker):
        raise AssertionError("the breaker was killed and Service did not start a new one")
    for sid, pid in pids.items():
        if _lookup(sid) != [pid]:
            why = ": Service restarted Terminals too" if gs.whereis("terminals") != terminals else ""
            raise AssertionError(f"session {sid!r} is not registered with its process after the breaker "
                                 f"crashed (registered as {sid!r} now: {_shown(_lookup(sid))}){why}")


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
    if _lookup("s1") != [pid]:
        raise AssertionError(f"a session opened after the registry's restart is not registered: "
                             f"the registry has {_shown(_lookup('s1'))} under 's1'")


@TREE.check("a crash of 'buffers' leaves the registry running",
            hint="Terminals' strategy is not one_for_all: the registry does not depend on 'buffers', so it "
                 "must keep its process when 'buffers' restarts")
def _buffers_crash(ns):
    _start(ns)
    registry = gs.whereis("sessions")
    _kill("terminals", "buffers")
    if gs.whereis("sessions") != registry:
        raise AssertionError("'buffers' was killed and the registry was restarted with it: Terminals "
                             "restarted a child that does not depend on 'buffers'")
    if gs.whereis("buffers") is None:
        raise AssertionError("'buffers' was killed and Terminals did not start a new one")
