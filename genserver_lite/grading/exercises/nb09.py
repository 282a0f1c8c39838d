"""Exercises of notebook 09, testing GenServers (``solutions/09_testing_genservers.ipynb``).

09.1 · Write tests that catch a planted bug: the learner writes test
functions for a given TTL cache (``put`` a cast, ``get`` a call, expiry by
timer, an ``("expired", key)`` message to subscribers). The checks run every
``test_*`` function of the learner's notebook against the correct cache,
where each must pass, and against three copies with a planted bug, each of
which some test must fail while passing against the correct one. A test asks
for fixtures by parameter name, as in pytest: ``start_supervised``,
``fake_clock`` and ``Cache`` (the class under test), run by
``gs.course.run_tests``. The checks use their own copies of the cache, so
editing the notebook's ``Cache`` changes nothing.
"""

from __future__ import annotations

import inspect
import time

import genserver_lite as gs
from genserver_lite.course import run_tests

from ..core import Exercise

__all__ = ["CATCH", "Cache", "KeepsFirstValue", "StaleTimer", "Silent"]


class Cache(gs.GenServer):
    """A cache whose entries expire ``ttl`` seconds after their last put (the exercise's given server)."""

    def init(self, opts):
        return ("ok", {"ttl": opts["ttl"], "entries": {}, "subscribers": ()})

    def handle_call(self, request, from_, state):
        match request:
            case ("get", key):
                entry = state["entries"].get(key)
                return ("reply", None if entry is None else entry[0], state)
            case "subscribe":
                return ("reply", "ok", {**state, "subscribers": (*state["subscribers"], from_[0])})
        return super().handle_call(request, from_, state)

    def handle_cast(self, request, state):
        match request:
            case ("put", key, value):
                return ("noreply", {**state, "entries": {**state["entries"], key: self.entry(state, key, value)}})
        return super().handle_cast(request, state)

    def handle_info(self, msg, state):
        match msg:
            case ("expire", key, tag) if key in state["entries"] and state["entries"][key][1] is tag:
                for pid in state["subscribers"]:
                    gs.send(pid, ("expired", key))
                entries = {k: v for k, v in state["entries"].items() if k != key}
                return ("noreply", {**state, "entries": entries})
            case ("expire", _key, _stale_tag):
                return ("noreply", state)
        return super().handle_info(msg, state)

    @staticmethod
    def entry(state, key, value):
        """The stored (value, tag): a new timer, tagged, so an older timer of the key is ignored."""
        tag = gs.make_ref()
        gs.send_after(gs.self(), ("expire", key, tag), state["ttl"])
        return (value, tag)


class KeepsFirstValue(Cache):
    """Bug 1: a put of a key already there keeps the old value (its time to live restarts all the same)."""

    def handle_cast(self, request, state):
        match request:
            case ("put", key, value) if key in state["entries"]:
                value = state["entries"][key][0]
                return ("noreply", {**state, "entries": {**state["entries"], key: self.entry(state, key, value)}})
        return super().handle_cast(request, state)


class StaleTimer(Cache):
    """Bug 2: every timer expires its key, so the first put's timer cuts short a key that was put again."""

    def handle_info(self, msg, state):
        match msg:
            case ("expire", key, _tag) if key in state["entries"]:
                return super().handle_info(("expire", key, state["entries"][key][1]), state)
        return super().handle_info(msg, state)


class Silent(Cache):
    """Bug 3: keys expire, but subscribers are never told."""

    def handle_info(self, msg, state):
        return super().handle_info(msg, {**state, "subscribers": ()})


CATCH = Exercise("09.1", "Write tests that catch a planted bug", notebook="09_testing_genservers",
                 stars=2, minutes=20)

_SLOW = 0.5      # seconds a single test may take against the correct cache


def _tests(ns) -> list:
    """The learner's test functions: every function named test_* in the notebook, in definition order."""
    found = [v for k, v in ns.items() if k.startswith("test_") and inspect.isfunction(v)]
    if not found:
        raise AssertionError("no test found: define functions named test_... (e.g. "
                             "def test_put_then_get(start_supervised, Cache): ...)")
    return found


def _failure(error) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return type(error).__name__ + (f": {text}" if text else "")


def _passing(ns) -> list:
    """Run the tests against the correct cache; the names of those that pass, or fail the check if any fails."""
    tests = _tests(ns)
    failed = [r for r in run_tests(tests, Cache=Cache) if not r.passed]
    if failed:
        name, error = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise AssertionError(f"{name} fails against the correct Cache{more}: {_failure(error)}") from error
    return [t.__name__ for t in tests]


def _catches(ns, buggy, bug: str) -> None:
    """Some test must pass against the correct cache and fail against ``buggy``."""
    tests = _tests(ns)
    good = {name for name, error in run_tests(tests, Cache=Cache) if error is None}
    bad = {name for name, error in run_tests(tests, Cache=buggy) if error is not None}
    if good & bad:
        return
    if not good:
        raise AssertionError("every test fails against the correct Cache, so none can tell a bug apart; "
                             "make them pass first")
    blind = [t.__name__ for t in tests if "Cache" not in inspect.signature(t).parameters]
    note = (f" ({', '.join(blind)} {'does' if len(blind) == 1 else 'do'} not take the Cache parameter, so "
            f"{'it tests' if len(blind) == 1 else 'they test'} the notebook's own Cache)") if blind else ""
    raise AssertionError(f"no test fails against the cache where {bug}: {', '.join(sorted(good))} "
                         f"all pass against it{note}")


@CATCH.check("your tests pass against the correct Cache",
             hint="each test_... takes the fixtures it needs as parameters (start_supervised, fake_clock, Cache), "
                  "starts Cache under start_supervised, and asserts what the Cache promises")
def _pass_on_correct(ns):
    _passing(ns)


@CATCH.check("they catch bug 1: a put of an existing key keeps the old value",
             hint="put a key twice with different values, then get it: the answer must be the second value")
def _catch_keeps_first(ns):
    _catches(ns, KeepsFirstValue, "a put of an existing key keeps the old value")


@CATCH.check("they catch bug 2: putting a key again does not restart its time to live",
             hint="with fake_clock: put, advance half the ttl, put again (barrier: gs.sys.get_state), advance "
                  "the other half: the key must still be there; it goes only one full ttl after the second put")
def _catch_stale_timer(ns):
    _catches(ns, StaleTimer, "the first put's timer expires a key that was put again")


@CATCH.check("they catch bug 3: subscribers are not told when a key expires",
             hint="subscribe (a call), put, advance the ttl with fake_clock, then "
                  "gs.testing.assert_receive(('expired', key))")
def _catch_silent(ns):
    _catches(ns, Silent, "subscribers are never told that a key expired")


@CATCH.check("each test takes well under a second (barriers and a fake clock, no sleeping)",
             hint="wait with a call or gs.sys.get_state after a cast, with assert_receive for a message, "
                  "and with fake_clock.advance for time; never time.sleep or gs.sleep")
def _fast(ns):
    timed = 0
    for fn in _tests(ns):
        t0 = time.monotonic()
        (result,) = run_tests([fn], Cache=Cache)
        took = time.monotonic() - t0
        if not result.passed:
            continue            # the first check reports it
        timed += 1
        if took > _SLOW:
            raise AssertionError(f"{fn.__name__} took {took:.2f} s against the correct Cache "
                                 f"(the limit is {_SLOW:g} s)")
    if not timed:
        raise AssertionError("no test passes against the correct Cache yet, so none could be timed")
