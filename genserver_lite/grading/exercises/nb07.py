"""Exercises of notebook 07, dynamic supervision and Registry (``solutions/07_dynamic_supervision_registry.ipynb``).

07.1 · A session registry with via names: sessions started at run time under
a DynamicSupervisor, each named ``("via", gs.Registry, ("sessions", id))``;
``whereis`` by ``Registry.lookup``, ``list_sessions`` by ``Registry.select``
(ids with their pids), calls by id, a crashed session reachable again by the
same id, and the registry first in one ``rest_for_one`` tree with the
sessions' supervisor. A plain global name fails: ids must be strings and
share one namespace with every other process.

07.2 · Chat rooms: a duplicate-key Registry where each member registers under
its room (a key gathers many processes), ``broadcast`` through
``Registry.dispatch``, and membership that follows the members' lives: a dead
member's entries go with it. A unique registry refuses the second member; a
GenServer that keeps the members' pids in a list still counts the dead.
"""

from __future__ import annotations

import genserver_lite as gs

from ..core import Exercise
from ..probes import call, down, expect, reason_text, start

__all__ = ["SESSIONS", "ROOMS"]

_REGISTRY = "sessions"
_SUPERVISOR = "session_sup"


# -- 07.1 · A session registry with via names -----------------------------------------------

SESSIONS = Exercise("07.1", "A session registry with via names",
                    notebook="07_dynamic_supervision_registry", stars=2, minutes=20,
                    names=["Session", "start_system", "open_session", "whereis", "list_sessions",
                           "call_session"])


def _start_system(ns):
    top = ns["start_system"]()
    if not isinstance(top, gs.Pid):
        raise AssertionError(f"start_system must return the top supervisor's pid, got {top!r}")
    for name, what in ((_REGISTRY, "a Registry"), (_SUPERVISOR, "the sessions' DynamicSupervisor")):
        if gs.whereis(name) is None:
            raise AssertionError(f"start_system returned, but no process is registered as {name!r}: "
                                 f"start {what} under that name")
    return top


def _open(ns, session_id):
    try:
        pid = ns["open_session"](session_id)
    except gs.StartError as e:
        why = e.reason
        if type(why) is tuple and len(why) == 2 and why[0] == "already_started":
            why = "('already_started', pid): another process is registered under that name"
        else:
            why = reason_text(why)
        raise AssertionError(f"open_session({session_id!r}) failed: {why}") from e
    if not isinstance(pid, gs.Pid):
        raise AssertionError(f"open_session({session_id!r}) must return the session's pid, got {pid!r}")
    return pid


def _as_list(reply):
    """A history or a list of messages as a list: the given code replies a tuple (a value), a list is fine too."""
    return list(reply) if isinstance(reply, (list, tuple)) else reply


def _call_session(ns, session_id, request):
    """``call_session(session_id, request)``, a sequence reply as a list; a failure becomes a sentence."""
    try:
        return _as_list(ns["call_session"](session_id, request))
    except gs.NoProc as e:
        raise AssertionError(f"call_session({session_id!r}, {request!r}): no session is registered "
                             f"under that id") from e
    except gs.CallTimeout as e:
        raise AssertionError(f"call_session({session_id!r}, {request!r}) got no reply") from e
    except gs.Exit as e:
        raise AssertionError(f"call_session({session_id!r}, {request!r}) failed: "
                             f"{reason_text(e.reason)}") from e


def _registered(session_id):
    return [pid for pid, _value in gs.Registry.lookup(_REGISTRY, session_id)]


@SESSIONS.check("open_session(id) starts a session under the DynamicSupervisor, in the registry under its id",
                hint="Session.start_link names the process via(session_id) = ('via', gs.Registry, "
                     "('sessions', session_id)); open_session calls gs.DynamicSupervisor.start_child")
def _opens(ns):
    _start_system(ns)
    pid = _open(ns, "s1")
    found = _registered("s1")
    if found != [pid]:
        what = "no process" if not found else "another process" if pid not in found else "more than one process"
        raise AssertionError(f"after open_session('s1'), gs.Registry.lookup('sessions', 's1') finds {what}, "
                             f"not the session")
    children = [c[1] for c in gs.DynamicSupervisor.which_children(_SUPERVISOR)]
    if children != [pid]:
        raise AssertionError(f"after open_session('s1'), session_sup has {len(children)} child(ren), "
                             f"and the session is {'' if pid in children else 'not '}one of them")
    expect(ns["whereis"]("s1") is pid, True, "whereis('s1') is the pid open_session('s1') returned")
    expect(ns["whereis"]("nobody"), None, "whereis('nobody')")


@SESSIONS.check("any hashable session id works, even a name another process is registered under",
                hint="a via name lives in the registry's own namespace; a plain name (name=session_id) "
                     "must be a string, and collides with every registered name, such as 'session_sup'")
def _any_id(ns):
    _start_system(ns)
    for session_id in (42, ("ada", 1), _SUPERVISOR):
        pid = _open(ns, session_id)
        expect(_call_session(ns, session_id, "history"), [], f"call_session({session_id!r}, 'history')")
        expect(ns["whereis"](session_id) is pid, True,
               f"whereis({session_id!r}) is the pid open_session({session_id!r}) returned")


@SESSIONS.check("list_sessions() returns (session id, pid) pairs, from the registry",
                hint="gs.Registry.select('sessions') gives (key, pid, value) triples: keep (key, pid)")
def _lists(ns):
    _start_system(ns)
    expect(list(ns["list_sessions"]()), [], "list_sessions() before any session opened")
    pids = {session_id: _open(ns, session_id) for session_id in ("s1", "s2", "s3")}
    got = ns["list_sessions"]()
    if not isinstance(got, list) or not all(type(e) is tuple and len(e) == 2 for e in got):
        raise AssertionError(f"list_sessions() must be a list of (session id, pid) pairs, got {got!r}")
    expect(sorted(got, key=repr), sorted(pids.items(), key=repr), "list_sessions() (in any order)")
    gs.DynamicSupervisor.terminate_child(_SUPERVISOR, pids["s2"])
    expect(sorted(ns["list_sessions"](), key=repr), sorted([("s1", pids["s1"]), ("s3", pids["s3"])], key=repr),
           "list_sessions() after s2 was terminated")


@SESSIONS.check("call_session(id, request) reaches the session by its id",
                hint="gs.call(via(session_id), request): the via tuple is a name call understands")
def _calls(ns):
    _start_system(ns)
    _open(ns, "s1")
    _open(ns, "s2")
    expect(_call_session(ns, "s1", ("input", "ls")), "ok", "call_session('s1', ('input', 'ls'))")
    expect(_call_session(ns, "s1", "history"), ["ls"], "call_session('s1', 'history')")
    expect(_call_session(ns, "s2", "history"), [], "call_session('s2', 'history')")


@SESSIONS.check("a crashed session is restarted and reachable again by the same id, with a fresh state",
                hint="the session registers its via name in start_link, so a restart registers the new "
                     "process under the same key; keep Session's restart type transient")
def _crash(ns):
    _start_system(ns)
    old = _open(ns, "s1")
    _call_session(ns, "s1", ("input", "ls"))
    gs.course.crash_child(_SUPERVISOR, old)
    new = ns["whereis"]("s1")
    if new is None:
        raise AssertionError("after the session crashed, whereis('s1') is None: it was not restarted")
    if new is old:
        raise AssertionError("after the crash, whereis('s1') still answers the dead session's pid")
    expect(_call_session(ns, "s1", "history"), [], "call_session('s1', 'history') after the restart")


@SESSIONS.check("the registry and the session supervisor share one tree, and restart in that order",
                hint="start_system starts gs.Supervisor with [(gs.Registry, {'keys': 'unique', 'name': "
                     "'sessions'}), SessionSup] and strategy='rest_for_one'")
def _one_tree(ns):
    top = _start_system(ns)
    try:
        kids = [pid for _id, pid, _kind, _mods in gs.Supervisor.which_children(top)]
    except (gs.Exit, ValueError) as e:
        raise AssertionError(f"start_system's pid does not answer as a supervisor: {reason_text(e)}") from e
    registry, sup = gs.whereis(_REGISTRY), gs.whereis(_SUPERVISOR)
    if registry not in kids or sup not in kids:
        raise AssertionError("the registry and session_sup must both be children of the supervisor "
                             "start_system returns")
    if kids.index(registry) > kids.index(sup):
        raise AssertionError("session_sup starts before the registry its sessions register in")
    strategy = gs.Supervisor.describe(top)["strategy"]
    if strategy == "one_for_one":
        raise AssertionError("the top is one_for_one: when the registry dies its sessions die with it, "
                             "and session_sup goes on restarting sessions that have nowhere to register")
    for session_id in ("s1", "s2"):
        _open(ns, session_id)
    ref = gs.monitor(registry)
    gs.exit(registry, "kill")
    down(ref, "the killed registry")
    try:
        gs.Supervisor.which_children(top)   # a barrier: the top has restarted what it restarts
    except gs.Exit as e:
        raise AssertionError(f"the top supervisor exited when the registry was killed: "
                             f"{reason_text(e.reason)}") from e
    if gs.whereis(_REGISTRY) is None or gs.whereis(_SUPERVISOR) in (None, sup):
        raise AssertionError("after the registry was killed, the top did not restart the registry, then "
                             "session_sup")
    expect(ns["list_sessions"](), [], "list_sessions() after the registry died (its sessions died with it)")
    pid = _open(ns, "s3")
    expect(ns["whereis"]("s3"), pid, "whereis('s3') for a session opened after the restart")


# -- 07.2 · Chat rooms --------------------------------------------------------------------

ROOMS = Exercise("07.2", "Chat rooms with a duplicate-key Registry and dispatch",
                 notebook="07_dynamic_supervision_registry", stars=2, minutes=20,
                 names=["start_rooms", "Member", "broadcast", "members"])


def _rooms(ns):
    try:
        ns["start_rooms"]()
    except (gs.StartError, ValueError, TypeError) as e:
        raise AssertionError(f"start_rooms() failed: {reason_text(e)}") from e


def _member(ns, name, room):
    try:
        return start(ns["Member"], (name, room))
    except AssertionError as e:
        cause = e.__cause__
        if isinstance(cause, gs.StartError) and isinstance(cause.reason, gs.AlreadyRegistered):
            raise AssertionError(f"Member {name!r} could not join {room!r}: the registry lets only one "
                                 f"process hold the key {room!r}") from e
        raise


def _got(pid):
    """The member's messages; the call comes after every message the check sent before it."""
    return _as_list(call(pid, "messages"))


def _broadcast(ns, room, text):
    n = ns["broadcast"](room, text)
    if isinstance(n, bool) or not isinstance(n, int):
        raise AssertionError(f"broadcast({room!r}, {text!r}) must return how many members it reached, "
                             f"got {n!r}")
    return n


@ROOMS.check("two members can be in the same room",
             hint="a room key gathers many members: start the registry with keys='duplicate'; each "
                  "Member registers under its room, its name as the value")
def _same_room(ns):
    _rooms(ns)
    _member(ns, "ada", "lobby")
    _member(ns, "bob", "lobby")
    expect(ns["members"]("lobby"), ["ada", "bob"], "members('lobby') after ada and bob joined")


@ROOMS.check("broadcast(room, text) reaches every member of the room, and only them",
             hint="gs.Registry.dispatch('rooms', room, fn): fn gets the [(pid, name), ...] of the room; "
                  "send each pid ('chat', room, text) and count them")
def _broadcasts(ns):
    _rooms(ns)
    ada, bob, cy = (_member(ns, n, r) for n, r in (("ada", "lobby"), ("bob", "lobby"), ("cy", "games")))
    expect(_broadcast(ns, "lobby", "hi"), 2, "broadcast('lobby', 'hi')")
    expect([_got(p) for p in (ada, bob, cy)], [[("lobby", "hi")], [("lobby", "hi")], []],
           "the messages of ada and bob (lobby) and cy (games)")


@ROOMS.check("a member can join a second room and hears both",
             hint="('join', room) registers the member under one more key: in a duplicate registry a "
                  "process may hold many keys")
def _two_rooms(ns):
    _rooms(ns)
    ada, cy = _member(ns, "ada", "lobby"), _member(ns, "cy", "games")
    expect(call(ada, ("join", "games")), "ok", "the reply to ('join', 'games')")
    expect(ns["members"]("games"), ["ada", "cy"], "members('games') after ada joined")
    expect(_broadcast(ns, "games", "gg"), 2, "broadcast('games', 'gg')")
    expect(_broadcast(ns, "lobby", "hi"), 1, "broadcast('lobby', 'hi')")
    expect((_got(ada), _got(cy)), ([("games", "gg"), ("lobby", "hi")], [("games", "gg")]),
           "the messages of ada and cy")


@ROOMS.check("a member that dies leaves its rooms",
             hint="read the members from the registry (lookup or dispatch): a process's entries go "
                  "when it dies; a list of pids you keep yourself still holds the dead")
def _dead_leave(ns):
    _rooms(ns)
    ada, bob = _member(ns, "ada", "lobby"), _member(ns, "bob", "lobby")
    call(bob, ("join", "games"))
    ref = gs.monitor(bob)
    gs.exit(bob, "kill")
    down(ref, "the killed member")
    expect(ns["members"]("lobby"), ["ada"], "members('lobby') after bob died")
    expect(ns["members"]("games"), [], "members('games') after bob died")
    expect(_broadcast(ns, "lobby", "still there?"), 1, "broadcast('lobby', ...) after bob died")
    expect(_got(ada), [("lobby", "still there?")], "ada's messages")


@ROOMS.check("an empty room: no members, and broadcast reaches no one",
             hint="dispatch does not call fn when the room has no entries: count what fn sent, "
                  "starting from 0; members sorts the names")
def _empty(ns):
    _rooms(ns)
    _member(ns, "ada", "lobby")
    expect(ns["members"]("attic"), [], "members('attic')")
    expect(_broadcast(ns, "attic", "anyone?"), 0, "broadcast('attic', 'anyone?')")
    _member(ns, "zoe", "lobby")
    _member(ns, "bob", "lobby")
    expect(ns["members"]("lobby"), ["ada", "bob", "zoe"], "members('lobby') after ada, zoe and bob joined")
