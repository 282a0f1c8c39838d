"""Exercises of notebook 11, the capstone (``solutions/11_capstone.ipynb``).

11.1 · Wire the terminals tree: ``Terminals``, a supervisor of the
``sessions`` Registry and the ``buffers`` DynamicSupervisor, with the
strategy their dependency asks for (``rest_for_one``, the registry first);
``Session.start_link`` names a session through the registry, and
``open_session`` starts one, transient, under ``buffers``. The checks prove
the strategy with kills: the registry's crash must restart ``buffers``
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

TREE = Exercise("11.1", "Wire the terminals tree", notebook="11_capstone", stars=2, minutes=20,
                names=["Session", "Terminals", "open_session"])


def _start(ns):
    """Start the learner's Terminals, unlinked; a failed start is one sentence."""
    cls = ns["Terminals"]
    if not isinstance(cls, type) or not issubclass(cls, gs.Supervisor):
        raise AssertionError(f"Terminals must be a gs.Supervisor subclass, got {cls!r}")
    try:
        sup = cls.start(None, timeout=_WAIT)
    except gs.StartError as e:
        raise AssertionError(f"Terminals failed to start: {reason_text(e.reason)}") from e
    for name in ("sessions", "buffers"):
        if gs.whereis(name) is None:
            raise AssertionError(f"Terminals started, but nothing is registered as {name!r}")
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


def _kill(sup, child_id) -> None:
    """Kill a child of ``sup`` by id and return once ``sup`` has handled it."""
    gs.course.crash_child(sup, child_id, kill=True, timeout=_WAIT)


def _sessions_settled() -> None:
    """Answered after 'buffers' handled every exit it already got."""
    gs.DynamicSupervisor.count_children("buffers")


@TREE.check("Terminals starts the registry 'sessions', then the supervisor 'buffers'",
            hint="init returns gs.supervise([(gs.Registry, {'keys': 'unique', 'name': 'sessions'}), "
                 "(gs.DynamicSupervisor, {'name': 'buffers'})], strategy=...): the registry first, "
                 "because the sessions register in it")
def _children(ns):
    sup = _start(ns)
    expect(_ids(sup), ["sessions", "buffers"], "Terminals' children, in start order")
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


@TREE.check("a session that crashes comes back under the same id; the others keep running",
            hint="a crashed child is restarted when its restart type is 'permanent' or 'transient', "
                 "never 'temporary'")
def _crash_restarts(ns):
    _start(ns)
    s1, s2 = _open(ns, "s1"), _open(ns, "s2")
    _kill("buffers", s1)
    now = _lookup("s1")
    if not now:
        raise AssertionError("after s1 crashed, no process is registered as 's1': 'buffers' did not "
                             "restart it")
    expect(now[0] is not s1, True, "s1 is a new process after its crash")
    expect(_lookup("s2") == [s2], True, "s2 kept its process")


@TREE.check("a session that logs out stays closed",
            hint="open it with restart='transient' (gs.child_spec((Session, session_id), restart="
                 "'transient')): a normal exit is then not restarted")
def _logout(ns):
    _start(ns)
    s1 = _open(ns, "s1")
    ref = gs.monitor(s1)
    cast(("via", gs.Registry, ("sessions", "s1")), "logout")
    gs.receive(lambda m: type(m) is tuple and m[:2] == ("DOWN", ref), timeout=_WAIT)
    _sessions_settled()
    expect(_lookup("s1"), [], "the processes registered as 's1' after it logged out")
    expect(gs.DynamicSupervisor.count_children("buffers")["active"], 0,
           "sessions running under 'buffers' after the only one logged out")


@TREE.check("a crash of the registry restarts 'buffers' after it, and sessions open again",
            hint="strategy='rest_for_one' with the registry first: a crash restarts the child and every "
                 "child started after it")
def _registry_crash(ns):
    sup = _start(ns)
    buffers = gs.whereis("buffers")
    _kill(sup, "sessions")
    if gs.whereis("buffers") is buffers:
        raise AssertionError("the registry was killed and 'buffers' kept its process: the sessions in it "
                             "died with the registry, and their restarts would find no registry")
    pid = _open(ns, "s1")
    expect(_lookup("s1") == [pid], True, "a session opened after the registry's restart is registered")


@TREE.check("a crash of 'buffers' leaves the registry running",
            hint="not one_for_all: the registry does not depend on 'buffers', so it must keep its process "
                 "when 'buffers' restarts")
def _buffers_crash(ns):
    sup = _start(ns)
    registry = gs.whereis("sessions")
    _kill(sup, "buffers")
    expect(gs.whereis("sessions") is registry, True, "the registry kept its process after 'buffers' crashed")
    expect(gs.whereis("buffers") is not None, True, "'buffers' runs again")
