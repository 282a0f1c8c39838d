"""Exercises of notebook 04, state (``solutions/04_state.ipynb``).

04.1 · A ``Session`` struct: a frozen dataclass (Elixir's struct) whose
``__post_init__`` refuses a bad session where it is built, naming the field,
and whose updates go through ``dataclasses.replace``.

04.2 · Find the leak: a server that replies with its own lists and sets,
rewritten so that its state is immutable all the way down and no reply is a
door into it.

04.3 · A live upgrade: a counter whose state goes from an ``int`` (vsn "1")
to a dataclass (vsn "2") through ``code_change``, with a downgrade clause, a
refused unknown version, and an ``upgrade`` function that suspends, changes
the code and always resumes. The checks drive ``gs.sys`` as a release
upgrade does, with their own copy of version 1.
"""

from __future__ import annotations

import dataclasses

import genserver_lite as gs

from ..core import Exercise
from ..probes import call, cast, expect, reason_text, start, state

__all__ = ["SESSION", "LEAK", "UPGRADE"]


# -- 04.1 · A Session struct ----------------------------------------------------------------

SESSION = Exercise("04.1", "A Session struct", notebook="04_state", stars=1, minutes=10,
                   names=["Session", "touch", "grant"])


def _session(ns, **fields):
    """``Session(user="ada", token="t0k3n", ttl=60.0, **fields)``, built by the learner's class."""
    args = {"user": "ada", "token": "t0k3n", "ttl": 60.0, **fields}
    return ns["Session"](**args)


def _show(fields: dict) -> str:
    return "Session(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def _refused(ns, field: str, kind: str = "ValueError", **bad):
    """Building a Session with ``bad`` fields must raise ValueError or TypeError naming ``field``.

    ``kind`` is the error the task asks for, named when the learner's is of another kind.
    """
    what = _show({"user": "ada", "token": "t0k3n", "ttl": 60.0, **bad})
    try:
        _session(ns, **bad)
    except NotImplementedError:
        raise
    except (ValueError, TypeError) as e:
        if field not in str(e):
            raise AssertionError(f"{what} raised {reason_text(e)}; the message should name the "
                                 f"field {field!r}") from None
        return
    except Exception as e:  # noqa: BLE001 - an assert, a KeyError...: the wrong kind of error
        raise AssertionError(f"{what} raised {reason_text(e)}; expected a {kind} naming "
                             f"{field!r}") from None
    raise AssertionError(f"{what} was accepted; expected a {kind} naming {field!r}")


@SESSION.check("Session(user, token, ttl) is a frozen struct with last_seen 0.0 and no roles",
               hint="keep @dataclass(frozen=True) and the fields as given; __post_init__ raises "
                    "only for a bad field and returns nothing")
def _valid_session(ns):
    s = _session(ns)
    got = (s.user, s.token, s.ttl, s.last_seen, s.roles)
    expect(got, ("ada", "t0k3n", 60.0, 0.0, frozenset()),
           "(user, token, ttl, last_seen, roles) of Session('ada', 't0k3n', 60.0)")
    try:
        s.user = "bob"
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("s.user = 'bob' changed the session in place; expected "
                             "FrozenInstanceError (@dataclass(frozen=True))")
    try:
        ns["Session"](user="ada", token="t0k3n")
    except TypeError:
        pass
    else:
        raise AssertionError("Session(user='ada', token='t0k3n') was accepted without a ttl; ttl "
                             "is required (no default)")


@SESSION.check("an empty or non-string user or token is refused, naming the field",
               hint="in __post_init__: if not isinstance(self.user, str) or not self.user: "
                    "raise ValueError(f'user must be a non-empty string, got {self.user!r}'); "
                    "the same for token")
def _user_and_token(ns):
    _session(ns)
    _refused(ns, "user", user="")
    _refused(ns, "user", user=None)
    _refused(ns, "token", token="")
    _refused(ns, "token", token=42)


@SESSION.check("a ttl that is not a positive number is refused, naming ttl",
               hint="check the type before comparing: if not isinstance(self.ttl, (int, float)) "
                    "or self.ttl <= 0: raise ValueError naming ttl")
def _ttl(ns):
    _session(ns, ttl=0.5)
    _session(ns, ttl=30)
    for bad in (0, -5.0, "60", None):
        _refused(ns, "ttl", ttl=bad)


@SESSION.check("roles must be a frozenset: a set or a list is refused, naming roles",
               hint="a set or list field could be changed in place through a frozen Session: "
                    "if not isinstance(self.roles, frozenset): raise TypeError naming roles")
def _roles(ns):
    s = _session(ns, roles=frozenset({"admin"}))
    expect(s.roles, frozenset({"admin"}), "roles of a Session built with frozenset({'admin'})")
    _refused(ns, "roles", "TypeError", roles={"admin"})
    _refused(ns, "roles", "TypeError", roles=["admin"])


@SESSION.check("touch(session, now) returns a new Session used at now; the old one is unchanged",
               hint="return dataclasses.replace(session, last_seen=now): a new value, "
                    "the other fields kept")
def _touch(ns):
    s = _session(ns, roles=frozenset({"admin"}))
    t = ns["touch"](s, 30.0)
    if not isinstance(t, ns["Session"]):
        raise AssertionError(f"touch(s, 30.0) returned {t!r}, expected a new Session")
    expect(t.last_seen, 30.0, "last_seen of touch(s, 30.0)")
    expect(s.last_seen, 0.0, "last_seen of s after touch(s, 30.0) (s must not change)")
    expect((t.user, t.token, t.ttl, t.roles), (s.user, s.token, s.ttl, s.roles),
           "(user, token, ttl, roles) of touch(s, 30.0)")
    expect(ns["touch"](t, 45.0).last_seen, 45.0, "last_seen of touch(touch(s, 30.0), 45.0)")


@SESSION.check("grant(session, role) returns a new Session with the role added, all else kept",
               hint="return dataclasses.replace(session, roles=session.roles | {role}); "
                    "replace keeps every other field, last_seen too")
def _grant(ns):
    s = ns["touch"](_session(ns), 30.0)
    g = ns["grant"](s, "admin")
    if not isinstance(g, ns["Session"]):
        raise AssertionError(f"grant(s, 'admin') returned {g!r}, expected a new Session")
    expect(g.roles, frozenset({"admin"}), "roles of grant(s, 'admin')")
    expect(s.roles, frozenset(), "roles of s after grant(s, 'admin') (s must not change)")
    expect((g.user, g.token, g.ttl, g.last_seen), (s.user, s.token, s.ttl, s.last_seen),
           "(user, token, ttl, last_seen) of grant(s, 'admin'), with s used at 30.0")
    expect(ns["grant"](g, "ops").roles, frozenset({"admin", "ops"}),
           "roles of grant(grant(s, 'admin'), 'ops')")


# -- 04.2 · Find the leak -------------------------------------------------------------------

LEAK = Exercise("04.2", "Find the leak", notebook="04_state", stars=1, minutes=10,
                names=["Playlist", "PlaylistServer"])

_EVIL = "EVIL"


def _playlist_server(ns):
    """A PlaylistServer named 'road trip' with tracks 'a', 'b' and the tag 'x'."""
    pid = start(ns["PlaylistServer"], "road trip")
    cast(pid, ("add", "a"))
    cast(pid, ("add", "b"))
    cast(pid, ("tag", "x"))
    return pid


def _try(*changes) -> None:
    """Try each in-place change a caller might make to a reply; an immutable reply refuses them all."""
    for change in changes:
        try:
            change()
        except Exception:  # noqa: BLE001 - refused: that is the point
            pass


def _tags(tags) -> list:
    """Tags in a stable order, for a message that reads the same every run."""
    return sorted(tags, key=repr)


def _unchanged(pid, what: str) -> None:
    expect(list(call(pid, "tracks")), ["a", "b"], f"the server's tracks after {what}")
    expect(_tags(call(pid, "tags")), ["x"], f"the server's tags after {what}")


@LEAK.check("it works as the leaky one: add, tag, tracks, tags and playlist",
            hint="init returns ('ok', Playlist(name)); add and tag return ('noreply', replace(...)); "
                 "'playlist' replies the state itself")
def _works(ns):
    pid = _playlist_server(ns)
    expect(list(call(pid, "tracks")), ["a", "b"], "tracks after add('a'), add('b')")
    expect(_tags(call(pid, "tags")), ["x"], "tags after tag('x')")
    p = call(pid, "playlist")
    if not isinstance(p, ns["Playlist"]):
        raise AssertionError(f"'playlist' replied {p!r}, expected the state, a Playlist")
    expect(p.name, "road trip", "the name in the 'playlist' reply")


@LEAK.check("a caller cannot change the server's tracks through the 'tracks' reply",
            hint="keep the tracks as a tuple: state.tracks + (track,) makes a new one")
def _tracks_reply(ns):
    pid = _playlist_server(ns)
    tracks = call(pid, "tracks")
    _try(lambda: tracks.append(_EVIL), lambda: tracks.__setitem__(0, _EVIL))
    _unchanged(pid, "the caller tried tracks.append(...) and tracks[0] = ... on its reply")


@LEAK.check("a caller cannot change the server's tags through the 'tags' reply",
            hint="keep the tags as a frozenset: state.tags | {tag} makes a new one")
def _tags_reply(ns):
    pid = _playlist_server(ns)
    tags = call(pid, "tags")
    _try(lambda: tags.add(_EVIL), lambda: tags.discard("x"))
    _unchanged(pid, "the caller tried tags.add(...) and tags.discard('x') on its reply")


@LEAK.check("a caller cannot change the server's state through the 'playlist' reply",
            hint="the state is a frozen Playlist whose fields are a str, a tuple and a frozenset: "
                 "then the state itself is safe to hand out")
def _playlist_reply(ns):
    pid = _playlist_server(ns)
    p = call(pid, "playlist")

    def field(name):
        return p[name] if isinstance(p, dict) else getattr(p, name)

    _try(lambda: setattr(p, "tracks", (_EVIL,)), lambda: setattr(p, "name", _EVIL),
         lambda: field("tracks").append(_EVIL), lambda: field("tags").add(_EVIL),
         lambda: p.__setitem__("tracks", [_EVIL]))
    _unchanged(pid, "the caller tried to change the 'playlist' reply in place")
    expect(call(pid, "playlist").name, "road trip", "the server's name after the same")


@LEAK.check("a reply is a value: later adds do not show up in an earlier reply",
            hint="never change the state in place (append, add): build a new Playlist with "
                 "replace, so what a caller holds stays as it was")
def _reply_is_a_value(ns):
    pid = _playlist_server(ns)
    tracks, tags = call(pid, "tracks"), call(pid, "tags")
    cast(pid, ("add", "c"))
    cast(pid, ("tag", "y"))
    expect(list(call(pid, "tracks")), ["a", "b", "c"], "the server's tracks after add('c')")
    expect((list(tracks), _tags(tags)), (["a", "b"], ["x"]),
           "the (tracks, tags) replies a caller got before add('c') and tag('y')")


@LEAK.check("the state is a Playlist with immutable fields: a tuple and a frozenset",
            hint="init returns ('ok', Playlist(name)), and every update keeps tracks a tuple and "
                 "tags a frozenset (never a list or a set)")
def _immutable_state(ns):
    pid = _playlist_server(ns)
    s = state(pid)
    if not isinstance(s, ns["Playlist"]):
        raise AssertionError(f"gs.sys.get_state(pid) is {type(s).__name__}, expected a Playlist")
    expect((type(s.tracks).__name__, type(s.tags).__name__), ("tuple", "frozenset"),
           "the types of the state's (tracks, tags)")
    expect((s.name, s.tracks, s.tags), ("road trip", ("a", "b"), frozenset({"x"})),
           "the state's (name, tracks, tags)")


# -- 04.3 · A live upgrade ------------------------------------------------------------------

UPGRADE = Exercise("04.3", "A live upgrade", notebook="04_state", stars=2, minutes=20,
                   names=["CounterState", "CounterV2", "upgrade"])


class Counter(gs.GenServer):
    """The checks' own version 1, as in the notebook: the state is an int."""

    vsn = "1"

    def init(self, n):
        return ("ok", n)

    def handle_cast(self, request, state):
        match request:
            case ("add", k):
                return ("noreply", state + k)

    def handle_call(self, request, from_, state):
        match request:
            case "value":
                return ("reply", state, state)


class OldCounter(Counter):
    """A version nobody wrote a migration for (the same int state)."""

    vsn = "0.9"


def _sys(fn, pid, what: str):
    """A gs.sys request that fails the check with a sentence if the server is gone or stuck."""
    try:
        return fn(pid, timeout=1.0)
    except gs.CallTimeout:
        raise AssertionError(f"the server did not answer {what} within 1 s") from None
    except gs.Exit as e:
        raise AssertionError(f"the server crashed before {what}: {reason_text(e.reason)}") from None


def _status(pid) -> dict:
    return _sys(gs.sys.get_status, pid, "gs.sys.get_status")


def _suspend(pid) -> None:
    _sys(gs.sys.suspend, pid, "gs.sys.suspend")


def _resume(pid) -> None:
    _sys(gs.sys.resume, pid, "gs.sys.resume")


def _change_code(pid, new_cls, old_vsn, what: str) -> None:
    """``gs.sys.change_code`` on a server the check suspended; a refusal becomes a sentence."""
    try:
        gs.sys.change_code(pid, new_cls, old_vsn, None, timeout=1.0)
    except gs.Exit as e:
        raise AssertionError(f"{what} was refused: {_refusal(e.reason)}") from _cause(e.reason)


def _cause(reason):
    """The exception inside a failed code_change, so a stub reads 'not implemented yet'."""
    if type(reason) is tuple and len(reason) == 2 and reason[0] == "code_change_failed":
        return reason[1]
    return None


def _refusal(reason) -> str:
    if type(reason) is tuple and len(reason) == 2:
        if reason[0] == "code_change_failed":
            e = reason[1]
            return f"code_change raised {type(e).__name__}: {e}"
        if reason[0] == "bad_return_value":
            return (f"code_change returned {reason[1]!r}"
                    + (" (did its match fall through?)" if reason[1] is None else ""))
    return f"code_change returned ('error', {reason!r})"


def _v1(value: int, **options):
    pid = start(Counter, 0, **options)
    cast(pid, ("add", value))
    return pid


@UPGRADE.check("CounterV2 on its own: add, value and changes, with a CounterState for state",
               hint="init returns ('ok', CounterState(value=n)); ('add', k) returns replace(state, "
                    "value=state.value + k, changes=state.changes + 1)")
def _v2_alone(ns):
    pid = start(ns["CounterV2"], 10)
    cast(pid, ("add", 5))
    cast(pid, ("add", -2))
    expect(call(pid, "value"), 13, "value of CounterV2(10) after add(5), add(-2)")
    expect(call(pid, "changes"), 2, "changes after two adds")
    expect(state(pid), ns["CounterState"](value=13, changes=2), "gs.sys.get_state(pid)")


@UPGRADE.check("an upgrade from version 1 keeps the value, the pid and the name",
               hint="code_change('1', n, extra) with an int n returns ('ok', CounterState(value=n))")
def _upgrade_from_1(ns):
    pid = _v1(5, name="counter")
    _suspend(pid)
    _change_code(pid, ns["CounterV2"], "1", "gs.sys.change_code(pid, CounterV2, '1')")
    _resume(pid)
    status = _status(pid)
    expect((status["module"].__name__, status["vsn"]), (ns["CounterV2"].__name__, "2"),
           "(module, vsn) after the upgrade")
    expect(gs.whereis("counter"), pid, "the pid registered as 'counter' after the upgrade")
    expect(status["state"], ns["CounterState"](value=5, changes=0), "the state after the upgrade")
    cast(pid, ("add", 1))
    expect((call(pid, "value"), call(pid, "changes")), (6, 1),
           "(value, changes) after the upgrade and add(1)")


@UPGRADE.check("adds sent while the server is suspended are all handled by version 2",
               hint="upgrade(server, new_cls) suspends, calls gs.sys.change_code(server, new_cls, "
                    "old_vsn) and resumes: the same process, so its mailbox waits for the new code")
def _no_message_lost(ns):
    pid = _v1(7)
    _suspend(pid)          # as if busy: these adds wait in the mailbox
    for _ in range(3):
        cast(pid, ("add", 1))
    ns["upgrade"](pid, ns["CounterV2"])
    alive = gs.alive(pid)
    if not alive:
        raise AssertionError("the server's process is gone after upgrade: change its code in place "
                             "with gs.sys.change_code, do not restart it")
    expect(_status(pid)["status"], "running", "the server's status after upgrade")
    expect((call(pid, "value"), call(pid, "changes")), (10, 3),
           "(value, changes) of Counter(7) upgraded with three add(1) waiting")


@UPGRADE.check("a downgrade (('down', '1')) gives version 1 its int back",
               hint="add a clause for old_vsn ('down', '1') with a CounterState that returns "
                    "('ok', state.value)")
def _downgrade(ns):
    pid = _v1(4)
    _suspend(pid)
    _change_code(pid, ns["CounterV2"], "1", "the upgrade from '1'")
    _resume(pid)
    cast(pid, ("add", 2))
    _suspend(pid)
    # OTP's order: a downgrade runs the running (newer) code's code_change with ("down", vsn).
    _change_code(pid, Counter, ("down", "1"), "gs.sys.change_code(pid, Counter, ('down', '1'))")
    _resume(pid)
    expect(_status(pid)["state"], 6, "the state after the downgrade")
    cast(pid, ("add", 1))
    expect(call(pid, "value"), 7, "value after the downgrade and add(1), served by version 1")


@UPGRADE.check("code_change refuses an unknown version with ('error', reason), either way",
               hint="end code_change with case _: return ('error', ('cannot_convert', old_vsn)): "
                    "no catch-all ('ok', state), no fall-through, no ('down', _) for any version")
def _unknown_refused(ns):
    v1 = _v1(3)
    v2 = start(ns["CounterV2"], 3)
    # an upgrade runs the new code's code_change; a downgrade the running (newer) code's
    for pid, new_cls, old_vsn in ((v1, ns["CounterV2"], "0.9"), (v2, Counter, ("down", "0.9"))):
        before = _status(pid)
        _suspend(pid)
        try:
            gs.sys.change_code(pid, new_cls, old_vsn, None, timeout=1.0)
        except gs.Exit as e:
            reason = e.reason
            if type(reason) is tuple and len(reason) == 2 and reason[0] in ("code_change_failed",
                                                                            "bad_return_value"):
                raise AssertionError(f"change_code from {old_vsn!r}: {_refusal(reason)}; expected "
                                     f"('error', reason)") from _cause(reason)
        else:
            raise AssertionError(f"change_code with old_vsn {old_vsn!r} succeeded; code_change must "
                                 f"refuse a version it does not know")
        finally:
            if gs.alive(pid):
                _resume(pid)
        after = _status(pid)
        expect((after["module"], after["state"]), (before["module"], before["state"]),
               f"(module, state) after the refused change_code with old_vsn {old_vsn!r}")


@UPGRADE.check("upgrade() of a version it cannot convert raises, and the server runs on unchanged",
               hint="upgrade reads the running version (gs.sys.get_status(server)['vsn']), lets "
                    "change_code's error through, and resumes in a finally")
def _upgrade_refused(ns):
    pid = start(OldCounter, 3)
    try:
        ns["upgrade"](pid, ns["CounterV2"])
    except gs.Exit:
        pass
    else:
        status = _status(pid)
        if status["vsn"] == "0.9":
            raise AssertionError("upgrade() returned as if all went well, but the server still runs "
                                 "version '0.9': let change_code's error through to the caller")
        raise AssertionError(f"upgrade() of a version '0.9' server succeeded (now {status['vsn']!r} "
                             f"with state {status['state']!r}); it must raise")
    if not gs.alive(pid):
        raise AssertionError("the server is gone after the refused upgrade")
    status = _status(pid)
    if status["status"] == "suspended":
        raise AssertionError("the server was left suspended after the refused upgrade: resume it "
                             "in a finally")
    expect((status["module"], status["vsn"], status["state"]), (OldCounter, "0.9", 3),
           "(module, vsn, state) after the refused upgrade")
    cast(pid, ("add", 1))
    expect(call(pid, "value"), 4, "value after the refused upgrade and add(1)")
