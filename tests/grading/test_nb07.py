"""Exercises 07.1-07.2 (dynamic supervision and Registry): the reference solutions pass; plausible mistakes fail with the right hints."""

import pytest

import genserver_lite as gs
from grading_asserts import assert_fails_with_hints, grade_fails


def assert_fails_exactly(exercise_id, ns, failing, why, capsys):
    report, out = assert_fails_with_hints(exercise_id, ns, failing, capsys)
    for line in why:
        assert line in out
    assert report.seconds < 2.0


# -- 07.1 · A session registry with via names -----------------------------------------------

OPENS = "open_session(id) starts a session under the DynamicSupervisor, in the registry under its id"
ANY_ID = "any hashable session id works, even a name another process is registered under"
LISTS = "list_sessions() returns (session id, pid) pairs, from the registry"
CALLS = "call_session(id, request) reaches the session by its id"
CRASH = "a crashed session is restarted and reachable again by the same id, with a fresh state"
ONE_TREE = "the registry and the session supervisor share one tree, and restart in that order"

REGISTRY, SUPERVISOR = "sessions", "session_sup"


class SessionSup(gs.DynamicSupervisor):
    """As given in solutions/07_dynamic_supervision_registry.ipynb."""

    @classmethod
    def start_link(cls, arg=None):
        return super().start_link(arg, name=SUPERVISOR)

    def init(self, arg):
        return gs.DynamicSupervisor.flags()


def via(session_id):
    return ("via", gs.Registry, (REGISTRY, session_id))


class Session(gs.GenServer):
    """The reference solution."""

    restart = "transient"

    @classmethod
    def start_link(cls, session_id):
        return super().start_link(session_id, name=via(session_id))

    def init(self, session_id):
        return ("ok", {"id": session_id, "input": ()})

    def handle_call(self, request, from_, state):
        match request:
            case ("input", text):
                return ("reply", "ok", {**state, "input": (*state["input"], text)})
            case "history":
                return ("reply", state["input"], state)


def start_system():
    children = [(gs.Registry, {"keys": "unique", "name": REGISTRY}), SessionSup]
    return gs.Supervisor.start_link(children, strategy="rest_for_one")


def open_session(session_id):
    return gs.DynamicSupervisor.start_child(SUPERVISOR, (Session, session_id))


def whereis(session_id):
    match gs.Registry.lookup(REGISTRY, session_id):
        case [(pid, _value)]:
            return pid
        case []:
            return None


def list_sessions():
    return [(session_id, pid) for session_id, pid, _value in gs.Registry.select(REGISTRY)]


def call_session(session_id, request):
    return gs.call(via(session_id), request)


def sessions_ns(**overrides):
    return {"Session": Session, "start_system": start_system, "open_session": open_session,
            "whereis": whereis, "list_sessions": list_sessions, "call_session": call_session,
            **overrides}


class GlobalSession(Session):
    """Registered under a plain global name: the session id itself."""

    @classmethod
    def start_link(cls, session_id):
        return super(Session, cls).start_link(session_id, name=session_id)


def global_open(session_id):
    return gs.DynamicSupervisor.start_child(SUPERVISOR, (GlobalSession, session_id))


def global_list():
    return [(gs.info(pid)["name"], pid) for _id, pid, _t, _m in gs.DynamicSupervisor.which_children(SUPERVISOR)]


class TemporarySession(Session):
    restart = "temporary"


def temporary_open(session_id):
    return gs.DynamicSupervisor.start_child(SUPERVISOR, (TemporarySession, session_id))


def separate_system():
    """The source's way: the registry started by hand, outside any tree."""
    gs.Registry.start_link("unique", name=REGISTRY)
    return SessionSup.start_link()


def one_for_one_system():
    children = [(gs.Registry, {"keys": "unique", "name": REGISTRY}), SessionSup]
    return gs.Supervisor.start_link(children, strategy="one_for_one")


def supervisor_first_system():
    children = [SessionSup, (gs.Registry, {"keys": "unique", "name": REGISTRY})]
    return gs.Supervisor.start_link(children, strategy="rest_for_one")


def test_the_reference_sessions_pass_every_check(capsys):
    report = gs.grading.check("07.1", sessions_ns())
    assert (report.passed, report.total) == (6, 6)
    assert capsys.readouterr().out.endswith("6/6 checks passed\n")
    assert report.seconds < 1.0


class ListHistorySession(Session):
    """The history kept in a list (rebuilt on each input, never changed in place): it passes too."""

    def init(self, session_id):
        return ("ok", {"id": session_id, "input": []})

    def handle_call(self, request, from_, state):
        match request:
            case ("input", text):
                return ("reply", "ok", {**state, "input": [*state["input"], text]})
        return super().handle_call(request, from_, state)


def test_a_session_with_a_list_history_passes_every_check(capsys):
    def open_list_session(session_id):
        return gs.DynamicSupervisor.start_child(SUPERVISOR, (ListHistorySession, session_id))

    report = gs.grading.check("07.1", sessions_ns(Session=ListHistorySession, open_session=open_list_session))
    assert (report.passed, report.total) == (6, 6)


@pytest.mark.parametrize("ns, failing, why", [
    (sessions_ns(Session=GlobalSession, open_session=global_open, whereis=gs.whereis,
                 list_sessions=global_list, call_session=gs.call),
     [OPENS, ANY_ID],
     ["why: after open_session('s1'), gs.Registry.lookup('sessions', 's1') finds no process, not the "
      "session\n",
      "why: open_session(42) failed: TypeError: "]),
    (sessions_ns(list_sessions=lambda: [pid for _k, pid, _v in gs.Registry.select(REGISTRY)]),
     [LISTS], ["why: list_sessions() must be a list of (session id, pid) pairs, got [<"]),
    (sessions_ns(open_session=temporary_open), [CRASH],
     ["why: after the session crashed, whereis('s1') is None: it was not restarted\n"]),
    (sessions_ns(start_system=separate_system), [ONE_TREE],
     ["why: the registry and session_sup must both be children of the supervisor start_system returns\n"]),
    (sessions_ns(start_system=one_for_one_system), [ONE_TREE],
     ["why: the top is one_for_one: when the registry dies its sessions die with it"]),
    (sessions_ns(start_system=supervisor_first_system), [ONE_TREE],
     ["why: session_sup starts before the registry its sessions register in\n"]),
], ids=["global-names", "pids-only", "temporary", "registry-outside-the-tree", "one_for_one",
        "supervisor-first"])
def test_a_wrong_session_registry_fails_the_right_checks_with_their_hints(ns, failing, why, capsys):
    assert_fails_exactly("07.1", ns, failing, why, capsys)


def test_a_global_name_collides_with_the_supervisors_name(capsys):
    # With string ids only, the collision is the failure: 'session_sup' is the DynamicSupervisor's name.
    def open_str(session_id):
        return global_open(str(session_id))

    def call_str(session_id, request):
        return gs.call(str(session_id), request)

    ns = sessions_ns(Session=GlobalSession, open_session=open_str, whereis=lambda sid: gs.whereis(str(sid)),
                     list_sessions=global_list, call_session=call_str)
    _, out = grade_fails("07.1", ns, capsys)
    assert ("why: open_session('session_sup') failed: ('already_started', pid): another process is "
            "registered under that name\n") in out


def test_the_derived_session_stubs_fail_every_check_as_not_implemented(capsys):
    def stub(*args):
        raise NotImplementedError("gs.Supervisor.start_link([registry child, SessionSup], strategy=...)")

    report, out = grade_fails("07.1", sessions_ns(start_system=stub, open_session=stub, whereis=stub,
                                            list_sessions=stub, call_session=stub), capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: gs.Supervisor.start_link") == 6


# -- 07.2 · Chat rooms --------------------------------------------------------------------

SAME_ROOM = "two members can be in the same room"
BROADCASTS = "broadcast(room, text) reaches every member of the room, and only them"
TWO_ROOMS = "a member can join a second room and hears both"
DEAD_LEAVE = "a member that dies leaves its rooms"
EMPTY = "an empty room: no members, and broadcast reaches no one"

ROOMS = "rooms"


def start_rooms():
    return gs.Registry.start_link(keys="duplicate", name=ROOMS)


class Member(gs.GenServer):
    """The reference solution."""

    def init(self, arg):
        name, room = arg
        gs.Registry.register(ROOMS, room, name)
        return ("ok", {"name": name, "messages": ()})

    def handle_call(self, request, from_, state):
        match request:
            case ("join", room):
                gs.Registry.register(ROOMS, room, state["name"])
                return ("reply", "ok", state)
            case "messages":
                return ("reply", state["messages"], state)

    def handle_info(self, msg, state):
        match msg:
            case ("chat", room, text):
                return ("noreply", {**state, "messages": (*state["messages"], (room, text))})
        return super().handle_info(msg, state)


def broadcast(room, text):
    sent = []

    def send_all(entries):
        for pid, _name in entries:
            gs.send(pid, ("chat", room, text))
            sent.append(pid)

    gs.Registry.dispatch(ROOMS, room, send_all)
    return len(sent)


def members(room):
    return sorted(name for _pid, name in gs.Registry.lookup(ROOMS, room))


def rooms_ns(**overrides):
    return {"start_rooms": start_rooms, "Member": Member, "broadcast": broadcast, "members": members,
            **overrides}


class Rooms(gs.GenServer):
    """The GenServer way: the room server keeps {room: [(pid, name)]} and never hears of a death."""

    def init(self, _):
        return ("ok", {})

    def handle_call(self, request, from_, state):
        match request:
            case ("join", room, pid, name):
                return ("reply", "ok", {**state, room: [*state.get(room, []), (pid, name)]})
            case ("members", room):
                return ("reply", state.get(room, []), state)


class ListMember(Member):
    def init(self, arg):
        name, room = arg
        gs.call(ROOMS, ("join", room, gs.self(), name))
        return ("ok", {"name": name, "messages": []})

    def handle_call(self, request, from_, state):
        if type(request) is tuple and request[0] == "join":
            gs.call(ROOMS, ("join", request[1], gs.self(), state["name"]))
            return ("reply", "ok", state)
        return super().handle_call(request, from_, state)


def list_broadcast(room, text):
    entries = gs.call(ROOMS, ("members", room))
    for pid, _name in entries:
        gs.send(pid, ("chat", room, text))
    return len(entries)


def list_members(room):
    return sorted(name for _pid, name in gs.call(ROOMS, ("members", room)))


def counts_with_a_local(room, text):
    """The Python slip: ``n += ...`` in a nested function makes n local to it."""
    n = 0

    def send_all(entries):
        for pid, _name in entries:
            gs.send(pid, ("chat", room, text))
        n += len(entries)  # noqa: F823 - the mistake under test

    gs.Registry.dispatch(ROOMS, room, send_all)
    return n


def test_the_reference_rooms_pass_every_check(capsys):
    report = gs.grading.check("07.2", rooms_ns())
    assert (report.passed, report.total) == (5, 5)
    assert capsys.readouterr().out.endswith("5/5 checks passed\n")
    assert report.seconds < 1.0


@pytest.mark.parametrize("ns, failing, why", [
    (rooms_ns(start_rooms=lambda: gs.Registry.start_link("unique", name=ROOMS)),
     [SAME_ROOM, BROADCASTS, TWO_ROOMS, DEAD_LEAVE, EMPTY],
     ["why: Member 'bob' could not join 'lobby': the registry lets only one process hold the key 'lobby'\n"]),
    (rooms_ns(start_rooms=lambda: Rooms.start_link(None, name=ROOMS), Member=ListMember,
              broadcast=list_broadcast, members=list_members),
     [DEAD_LEAVE], ["why: members('lobby') after bob died: got ['ada', 'bob'], expected ['ada']\n"]),
    (rooms_ns(broadcast=counts_with_a_local), [BROADCASTS, TWO_ROOMS, DEAD_LEAVE],
     ["why: UnboundLocalError: "]),
    (rooms_ns(members=lambda room: [name for _pid, name in gs.Registry.lookup(ROOMS, room)]),
     [TWO_ROOMS, EMPTY],
     ["why: members('games') after ada joined: got ['cy', 'ada'], expected ['ada', 'cy']\n"]),
], ids=["unique-registry", "pids-in-a-genserver", "unbound-counter", "unsorted-members"])
def test_a_wrong_chat_fails_the_right_checks_with_their_hints(ns, failing, why, capsys):
    assert_fails_exactly("07.2", ns, failing, why, capsys)


def test_the_derived_room_stubs_fail_every_check_as_not_implemented(capsys):
    def stub(*args):
        raise NotImplementedError("gs.Registry.start_link(keys, name=ROOMS)")

    report, out = grade_fails("07.2", rooms_ns(start_rooms=stub, broadcast=stub, members=stub), capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: gs.Registry.start_link") == 5
