"""Exercises of notebook 04 (state): the reference solutions pass; plausible learner mistakes fail with the right hint."""

from dataclasses import dataclass, replace

import pytest

import genserver_lite as gs
from grading_asserts import assert_fails_with_hints, grade_fails


# -- 04.1 · A Session struct: the reference, as in solutions/04_state.ipynb -------------------

@dataclass(frozen=True)
class Session:
    user: str
    token: str
    ttl: float
    last_seen: float = 0.0
    roles: frozenset = frozenset()

    def __post_init__(self):
        for name in ("user", "token"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, (int, float)) or self.ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {self.ttl!r}")
        if not isinstance(self.roles, frozenset):
            raise TypeError(f"roles must be a frozenset, got {type(self.roles).__name__}")


def touch(session, now):
    return replace(session, last_seen=now)


def grant(session, role):
    return replace(session, roles=session.roles | {role})


SESSION_NS = {"Session": Session, "touch": touch, "grant": grant}
VALID = "Session(user, token, ttl) is a frozen struct with last_seen 0.0 and no roles"
USER = "an empty or non-string user or token is refused, naming the field"
TTL = "a ttl that is not a positive number is refused, naming ttl"
ROLES = "roles must be a frozenset: a set or a list is refused, naming roles"
TOUCH = "touch(session, now) returns a new Session used at now; the old one is unchanged"
GRANT = "grant(session, role) returns a new Session with the role added, all else kept"


@dataclass(frozen=True)
class AssertsInsteadOfRaising:
    """Checks with assert: an AssertionError (and nothing at all under python -O)."""
    user: str
    token: str
    ttl: float
    last_seen: float = 0.0
    roles: frozenset = frozenset()

    def __post_init__(self):
        assert isinstance(self.user, str) and self.user, "user must be a non-empty string"
        assert isinstance(self.token, str) and self.token, "token must be a non-empty string"
        assert isinstance(self.ttl, (int, float)) and self.ttl > 0, "ttl must be positive"
        assert isinstance(self.roles, frozenset), "roles must be a frozenset"


@dataclass(frozen=True)
class ComparesBeforeTypeChecking(Session):
    """``self.ttl <= 0`` on a string raises Python's own TypeError, which does not name ttl."""

    def __post_init__(self):
        for name in ("user", "token"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        if self.ttl is None or self.ttl <= 0:
            raise ValueError(f"ttl must be positive, got {self.ttl!r}")
        if not isinstance(self.roles, frozenset):
            raise TypeError("roles must be a frozenset")


@dataclass(frozen=True)
class AcceptsAnyRoles(Session):
    """No roles check: a set would be shared, and changeable, through a 'frozen' Session."""

    def __post_init__(self):
        for name in ("user", "token"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(self.ttl, (int, float)) or self.ttl <= 0:
            raise ValueError("ttl must be a positive number")


@dataclass
class MutableSession:
    """frozen=True dropped so that touch can assign in place."""
    user: str
    token: str
    ttl: float
    last_seen: float = 0.0
    roles: frozenset = frozenset()

    __post_init__ = Session.__post_init__


def touch_in_place(session, now):
    session.last_seen = now
    return session


def grant_by_rebuilding(session, role):
    """Builds a new Session by hand and forgets last_seen: what replace is for."""
    return Session(session.user, session.token, session.ttl, roles=session.roles | {role})


def test_the_reference_session_passes_every_check(capsys):
    report = gs.grading.check("04.1", SESSION_NS)
    assert (report.passed, report.total) == (6, 6)
    assert report.seconds < 0.5


@pytest.mark.parametrize("ns, failing", [
    ({**SESSION_NS, "Session": AssertsInsteadOfRaising}, [USER, TTL, ROLES]),
    ({**SESSION_NS, "Session": ComparesBeforeTypeChecking}, [TTL]),
    ({**SESSION_NS, "Session": AcceptsAnyRoles}, [ROLES]),
    ({**SESSION_NS, "Session": MutableSession, "touch": touch_in_place}, [VALID, TOUCH]),
    ({**SESSION_NS, "grant": grant_by_rebuilding}, [GRANT]),
])
def test_a_session_mistake_fails_the_right_checks_with_their_hints(ns, failing, capsys):
    assert_fails_with_hints("04.1", ns, failing, capsys)


def test_an_assert_is_the_wrong_kind_of_error(capsys):
    _, out = grade_fails("04.1", {**SESSION_NS, "Session": AssertsInsteadOfRaising}, capsys)
    # (pytest rewrites this module's asserts: the learner's message gets more lines, the first is shown)
    assert ("why: Session(user='', token='t0k3n', ttl=60.0) raised AssertionError: user must be a "
            "non-empty string; expected a ValueError naming 'user'\n") in out


def test_pythons_own_type_error_does_not_name_the_field(capsys):
    _, out = grade_fails("04.1", {**SESSION_NS, "Session": ComparesBeforeTypeChecking}, capsys)
    assert ("why: Session(user='ada', token='t0k3n', ttl='60') raised TypeError: '<=' not supported "
            "between instances of 'str' and 'int'; the message should name the field 'ttl'") in out


def test_an_accepted_set_of_roles_asks_for_a_type_error(capsys):
    _, out = grade_fails("04.1", {**SESSION_NS, "Session": AcceptsAnyRoles}, capsys)
    assert ("why: Session(user='ada', token='t0k3n', ttl=60.0, roles={'admin'}) was accepted; expected "
            "a TypeError naming 'roles'\n") in out


def test_a_value_error_naming_roles_is_accepted_too(capsys):
    @dataclass(frozen=True)
    class RolesValueError(Session):
        def __post_init__(self):
            if not isinstance(self.roles, frozenset):
                raise ValueError("roles must be a frozenset")
            super().__post_init__()

    report = gs.grading.check("04.1", {**SESSION_NS, "Session": RolesValueError})
    assert (report.passed, report.total) == (6, 6)


def test_a_forgotten_field_is_shown(capsys):
    _, out = grade_fails("04.1", {**SESSION_NS, "grant": grant_by_rebuilding}, capsys)
    assert ("why: (user, token, ttl, last_seen) of grant(s, 'admin'), with s used at 30.0: got "
            "('ada', 't0k3n', 60.0, 0.0), expected ('ada', 't0k3n', 60.0, 30.0)") in out


def test_the_derived_session_stub_fails_every_check(capsys):
    @dataclass(frozen=True)
    class Stub(Session):
        def __post_init__(self):
            raise NotImplementedError("refuse a bad field")

    def stub(*args):
        raise NotImplementedError("use replace")

    report, out = grade_fails("04.1", {"Session": Stub, "touch": stub, "grant": stub}, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: refuse a bad field") == 6


# -- 04.2 · Find the leak ---------------------------------------------------------------------

@dataclass(frozen=True)
class Playlist:
    name: str
    tracks: tuple = ()
    tags: frozenset = frozenset()


class PlaylistServer(gs.GenServer):
    """The reference solution."""

    def init(self, name):
        return ("ok", Playlist(name))

    def handle_cast(self, request, state):
        match request:
            case ("add", track):
                return ("noreply", replace(state, tracks=state.tracks + (track,)))
            case ("tag", tag):
                return ("noreply", replace(state, tags=state.tags | {tag}))

    def handle_call(self, request, from_, state):
        match request:
            case "tracks":
                return ("reply", state.tracks, state)
            case "tags":
                return ("reply", state.tags, state)
            case "playlist":
                return ("reply", state, state)


class LeakyPlaylist(gs.GenServer):
    """The server the exercise starts from: a dict of a list and a set, handed out as they are."""

    def init(self, name):
        return ("ok", {"name": name, "tracks": [], "tags": set()})

    def handle_cast(self, request, state):
        match request:
            case ("add", track):
                state["tracks"].append(track)
            case ("tag", tag):
                state["tags"].add(tag)
        return ("noreply", state)

    def handle_call(self, request, from_, state):
        match request:
            case "tracks":
                return ("reply", state["tracks"], state)
            case "tags":
                return ("reply", state["tags"], state)
            case "playlist":
                return ("reply", state, state)


@dataclass(frozen=True)
class ShallowPlaylist:
    name: str
    tracks: list
    tags: set


class ShallowFreeze(PlaylistServer):
    """A frozen dataclass around a list and a set, changed in place: frozen is shallow."""

    def init(self, name):
        return ("ok", ShallowPlaylist(name, [], set()))

    def handle_cast(self, request, state):
        match request:
            case ("add", track):
                state.tracks.append(track)
            case ("tag", tag):
                state.tags.add(tag)
        return ("noreply", state)


class CopiesOnReply(LeakyPlaylist):
    """Replies with copies: no caller can reach the state, but the state is still mutable."""

    def handle_call(self, request, from_, state):
        match request:
            case "tracks":
                return ("reply", tuple(state["tracks"]), state)
            case "tags":
                return ("reply", frozenset(state["tags"]), state)
            case "playlist":
                return ("reply", Playlist(state["name"], tuple(state["tracks"]), frozenset(state["tags"])),
                        state)


class TagsStillASet(PlaylistServer):
    """Tracks fixed, tags forgotten: a set inside the frozen Playlist."""

    def init(self, name):
        return ("ok", Playlist(name, (), set()))

    def handle_cast(self, request, state):
        if request[0] == "tag":
            state.tags.add(request[1])
            return ("noreply", state)
        return super().handle_cast(request, state)


WORKS = "it works as the leaky one: add, tag, tracks, tags and playlist"
TRACKS_REPLY = "a caller cannot change the server's tracks through the 'tracks' reply"
TAGS_REPLY = "a caller cannot change the server's tags through the 'tags' reply"
PLAYLIST_REPLY = "a caller cannot change the server's state through the 'playlist' reply"
VALUE = "a reply is a value: later adds do not show up in an earlier reply"
IMMUTABLE = "the state is a Playlist with immutable fields: a tuple and a frozenset"


def test_the_reference_playlist_server_passes_every_check(capsys):
    report = gs.grading.check("04.2", {"Playlist": Playlist, "PlaylistServer": PlaylistServer})
    assert (report.passed, report.total) == (6, 6)
    assert report.seconds < 0.5


@pytest.mark.parametrize("cls, failing", [
    (LeakyPlaylist, [WORKS, TRACKS_REPLY, TAGS_REPLY, PLAYLIST_REPLY, VALUE, IMMUTABLE]),
    (ShallowFreeze, [WORKS, TRACKS_REPLY, TAGS_REPLY, PLAYLIST_REPLY, VALUE, IMMUTABLE]),
    (CopiesOnReply, [IMMUTABLE]),
    (TagsStillASet, [TAGS_REPLY, PLAYLIST_REPLY, VALUE, IMMUTABLE]),
])
def test_a_leak_fails_the_right_checks_with_their_hints(cls, failing, capsys):
    assert_fails_with_hints("04.2", {"Playlist": Playlist, "PlaylistServer": cls}, failing, capsys)


def test_the_leaky_server_shows_the_change_a_caller_made(capsys):
    _, out = grade_fails("04.2", {"Playlist": Playlist, "PlaylistServer": LeakyPlaylist}, capsys)
    assert ("why: the server's tracks after the caller tried tracks.append(...) and tracks[0] = ... on "
            "its reply: got ['EVIL', 'b', 'EVIL'], expected ['a', 'b']") in out
    assert "why: gs.sys.get_state(pid) is dict, expected a Playlist" in out


# -- 04.3 · A live upgrade --------------------------------------------------------------------

@dataclass(frozen=True)
class CounterState:
    value: int
    changes: int = 0


class CounterV2(gs.GenServer):
    """The reference solution."""

    vsn = "2"

    def init(self, n):
        return ("ok", CounterState(value=n))

    def handle_cast(self, request, state):
        match request:
            case ("add", k):
                return ("noreply", replace(state, value=state.value + k, changes=state.changes + 1))

    def handle_call(self, request, from_, state):
        match request:
            case "value":
                return ("reply", state.value, state)
            case "changes":
                return ("reply", state.changes, state)

    def code_change(self, old_vsn, state, extra):
        match old_vsn, state:
            case "1", int():
                return ("ok", CounterState(value=state))
            case ("down", "1"), CounterState(value=value):
                return ("ok", value)
            case _:
                return ("error", ("cannot_convert", old_vsn, type(state).__name__))


def upgrade(server, new_cls, extra=None):
    old_vsn = gs.sys.get_status(server)["vsn"]
    gs.sys.suspend(server)
    try:
        gs.sys.change_code(server, new_cls, old_vsn, extra)
    finally:
        gs.sys.resume(server)


UPGRADE_NS = {"CounterState": CounterState, "CounterV2": CounterV2, "upgrade": upgrade}
ALONE = "CounterV2 on its own: add, value and changes, with a CounterState for state"
FROM_1 = "an upgrade from version 1 keeps the value, the pid and the name"
NONE_LOST = "adds sent while the server is suspended are all handled by version 2"
DOWN = "a downgrade (('down', '1')) gives version 1 its int back"
UNKNOWN = "code_change refuses an unknown version with ('error', reason), either way"
UPGRADE_REFUSED = "upgrade() of a version it cannot convert raises, and the server runs on unchanged"


class CatchAll(CounterV2):
    """The source's catch-all: an unknown version 'succeeds' and keeps the old state."""

    def code_change(self, old_vsn, state, extra):
        match old_vsn, state:
            case "1", int():
                return ("ok", CounterState(value=state))
            case ("down", "1"), CounterState(value=value):
                return ("ok", value)
            case _:
                return ("ok", state)


class NoDowngrade(CounterV2):
    """Only the upgrade clause: a downgrade falls through the match and returns None."""

    def code_change(self, old_vsn, state, extra):
        match old_vsn, state:
            case "1", int():
                return ("ok", CounterState(value=state))
            case "0.9" | ("down", "0.9"), _:
                return ("error", "unknown")


class ForgetsToConvert(CounterV2):
    """Accepts version 1 but keeps the int: version 2's clauses then crash on the first add."""

    def code_change(self, old_vsn, state, extra):
        if old_vsn == "1":
            return ("ok", state)
        return super().code_change(old_vsn, state, extra)


class DownForAnyVersion(CounterV2):
    def code_change(self, old_vsn, state, extra):
        match old_vsn, state:
            case ("down", _), CounterState(value=value):
                return ("ok", value)
        return super().code_change(old_vsn, state, extra)


def upgrade_without_finally(server, new_cls, extra=None):
    old_vsn = gs.sys.get_status(server)["vsn"]
    gs.sys.suspend(server)
    gs.sys.change_code(server, new_cls, old_vsn, extra)
    gs.sys.resume(server)


def upgrade_from_1(server, new_cls, extra=None):
    """Hard-codes the version it upgrades from."""
    gs.sys.suspend(server)
    try:
        gs.sys.change_code(server, new_cls, "1", extra)
    finally:
        gs.sys.resume(server)


def upgrade_by_restart(server, new_cls, extra=None):
    """Reads the value, stops the old server and starts the new one: a new process, an empty mailbox."""
    value = gs.sys.get_state(server)
    gs.stop(server)
    return new_cls.start(value)


def upgrade_quietly(server, new_cls, extra=None):
    """Swallows a refused upgrade: the caller never learns it was refused."""
    try:
        upgrade(server, new_cls, extra)
    except gs.Exit:
        pass


def test_the_reference_upgrade_passes_every_check(capsys):
    report = gs.grading.check("04.3", UPGRADE_NS)
    assert (report.passed, report.total) == (6, 6)
    assert report.seconds < 0.5


@pytest.mark.parametrize("ns, failing, why", [
    ({**UPGRADE_NS, "CounterV2": CatchAll}, [UNKNOWN, UPGRADE_REFUSED],
     "why: change_code with old_vsn '0.9' succeeded; code_change must refuse a version it does not know"),
    ({**UPGRADE_NS, "CounterV2": NoDowngrade}, [DOWN],
     "why: gs.sys.change_code(pid, Counter, ('down', '1')) was refused: code_change returned None "
     "(did its match fall through?)"),
    ({**UPGRADE_NS, "CounterV2": ForgetsToConvert}, [FROM_1, NONE_LOST, DOWN],
     "why: the server crashed before gs.sys.suspend: AttributeError: 'int' object has no attribute 'value'"),
    ({**UPGRADE_NS, "CounterV2": DownForAnyVersion}, [UNKNOWN],
     "why: change_code with old_vsn ('down', '0.9') succeeded; code_change must refuse a version it "
     "does not know"),
    ({**UPGRADE_NS, "upgrade": upgrade_without_finally}, [UPGRADE_REFUSED],
     "why: the server was left suspended after the refused upgrade: resume it in a finally"),
    ({**UPGRADE_NS, "upgrade": upgrade_from_1}, [UPGRADE_REFUSED],
     "why: upgrade() of a version '0.9' server succeeded (now '2' with state CounterState(value=3, "
     "changes=0)); it must raise"),
    ({**UPGRADE_NS, "upgrade": upgrade_by_restart}, [NONE_LOST, UPGRADE_REFUSED],
     "why: the server's process is gone after upgrade: change its code in place with "
     "gs.sys.change_code, do not restart it"),
    ({**UPGRADE_NS, "upgrade": upgrade_quietly}, [UPGRADE_REFUSED],
     "why: upgrade() returned as if all went well, but the server still runs version '0.9': let "
     "change_code's error through to the caller"),
])
def test_an_upgrade_mistake_fails_the_right_checks_with_their_hints(ns, failing, why, capsys):
    report, out = assert_fails_with_hints("04.3", ns, failing, capsys)
    assert why in out
    assert report.seconds < 2.0


def test_the_derived_upgrade_stubs_fail_every_check_as_not_implemented(capsys):
    class Stub(CounterV2):
        def init(self, n):
            raise NotImplementedError("start from CounterState(value=n)")

        def code_change(self, old_vsn, state, extra):
            raise NotImplementedError("convert the state")

    def stub(server, new_cls, extra=None):
        raise NotImplementedError("suspend, change_code, resume")

    report, out = grade_fails("04.3", {**UPGRADE_NS, "CounterV2": Stub, "upgrade": stub}, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet:") == 6
