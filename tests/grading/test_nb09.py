"""Exercise 09.1 (tests that catch a planted bug): the reference tests pass every check, under pytest too; tests that cannot fail are caught."""

import pytest

import genserver_lite as gs
from grading_asserts import assert_fails_with_hints
from genserver_lite.grading.exercises.nb09 import Cache

EXERCISE = gs.grading.get("09.1")
TITLES = [c.title for c in EXERCISE.checks]
HINTS = {c.title: c.hint for c in EXERCISE.checks}
TTL = 60.0


def reference_tests():
    """The learner's tests of the reference solution (solutions/09_testing_genservers.ipynb).

    Built inside a function, so that pytest does not collect them from this module as they are.
    """
    def test_put_then_get(start_supervised, Cache):
        pid = start_supervised((Cache, {"ttl": TTL}))
        gs.cast(pid, ("put", "a", 1))
        gs.cast(pid, ("put", "a", 2))
        assert gs.call(pid, ("get", "a")) == 2
        assert gs.call(pid, ("get", "b")) is None

    def test_a_put_restarts_the_time_to_live(start_supervised, fake_clock, Cache):
        pid = start_supervised((Cache, {"ttl": TTL}))
        gs.cast(pid, ("put", "a", 1))
        gs.sys.get_state(pid)
        fake_clock.advance(TTL / 2)
        gs.cast(pid, ("put", "a", 2))
        gs.sys.get_state(pid)
        fake_clock.advance(TTL / 2)
        assert gs.call(pid, ("get", "a")) == 2
        fake_clock.advance(TTL / 2)
        assert gs.call(pid, ("get", "a")) is None

    def test_subscribers_hear_of_expiry(start_supervised, fake_clock, Cache):
        pid = start_supervised((Cache, {"ttl": TTL}))
        assert gs.call(pid, "subscribe") == "ok"
        gs.cast(pid, ("put", "a", 1))
        gs.sys.get_state(pid)
        fake_clock.advance(TTL)
        gs.testing.assert_receive(("expired", "a"))
        assert gs.call(pid, ("get", "a")) is None

    return {f.__name__: f for f in (test_put_then_get, test_a_put_restarts_the_time_to_live,
                                    test_subscribers_hear_of_expiry)}


REFERENCE = reference_tests()


def assert_fails(ns, failing_titles, capsys):
    return assert_fails_with_hints("09.1", ns, failing_titles, capsys)[1]


def test_the_reference_tests_pass_every_check(capsys):
    report = gs.grading.check("09.1", {"gs": gs, "Cache": Cache, **REFERENCE})
    assert (report.passed, report.total) == (5, 5)
    assert capsys.readouterr().out.endswith("5/5 checks passed\n")
    assert report.seconds < 2.0


# The same tests under pytest itself, with the package's pytest plugin and a Cache fixture:
# what run_tests does for the notebook and the checks is what pytest does.
@pytest.fixture(name="Cache")
def cache_fixture():
    return Cache


test_reference_put_then_get_under_pytest = REFERENCE["test_put_then_get"]
test_reference_time_to_live_under_pytest = REFERENCE["test_a_put_restarts_the_time_to_live"]
test_reference_subscribers_under_pytest = REFERENCE["test_subscribers_hear_of_expiry"]


def test_tests_that_assert_nothing_catch_no_bug(capsys):
    def test_it_starts(start_supervised, Cache):
        start_supervised((Cache, {"ttl": TTL}))

    out = assert_fails({"test_it_starts": test_it_starts}, TITLES[1:4], capsys)
    assert "why: no test fails against the cache where a put of an existing key keeps the old value: " \
           "test_it_starts all pass against it" in out


def test_a_test_that_sleeps_and_checks_the_wrong_thing_catches_no_bug(capsys):
    def test_expiry(start_supervised, Cache):
        pid = start_supervised((Cache, {"ttl": 0.02}))        # a real, short time to live
        gs.cast(pid, ("put", "a", 1))
        gs.sleep(0.05)                                        # instead of a barrier and a fake clock
        assert gs.call(pid, ("get", "a")) is None

    assert_fails({"test_expiry": test_expiry}, TITLES[1:4], capsys)


def test_tests_of_one_promise_catch_one_bug(capsys):
    assert_fails({"test_put_then_get": REFERENCE["test_put_then_get"]}, TITLES[2:4], capsys)


def test_a_test_that_ignores_the_cache_parameter_is_told_so(capsys):
    def test_put(start_supervised):
        pid = start_supervised((Cache, {"ttl": TTL}))          # the module's Cache, not the parameter
        gs.cast(pid, ("put", "a", 1))
        gs.cast(pid, ("put", "a", 2))
        assert gs.call(pid, ("get", "a")) == 2

    out = assert_fails({"test_put": test_put}, TITLES[1:4], capsys)
    assert "(test_put does not take the Cache parameter, so it tests the notebook's own Cache)" in out


def test_a_wrong_expectation_fails_on_the_correct_cache(capsys):
    def test_get_of_a_missing_key_crashes(start_supervised, Cache):
        pid = start_supervised((Cache, {"ttl": TTL}))
        with pytest.raises(gs.Exit):
            gs.call(pid, ("get", "nothing"))

    ns = {**REFERENCE, "test_get_of_a_missing_key_crashes": test_get_of_a_missing_key_crashes}
    out = assert_fails(ns, TITLES[:1], capsys)
    assert "why: test_get_of_a_missing_key_crashes fails against the correct Cache: Failed: DID NOT RAISE Exit" in out


def test_an_unknown_fixture_is_named(capsys):
    def test_with_a_server(server):
        assert server

    out = assert_fails({"test_with_a_server": test_with_a_server}, TITLES, capsys)
    assert ("test_with_a_server fails against the correct Cache: LookupError: test_with_a_server asks for "
            "a fixture 'server'; known: Cache, fake_clock, start_supervised") in out


def test_no_tests_at_all(capsys):
    out = assert_fails({"gs": gs, "Cache": Cache}, TITLES, capsys)
    assert "why: no test found: define functions named test_..." in out


def test_a_slow_test_is_timed(capsys):
    def test_slowly(start_supervised, Cache):
        pid = start_supervised((Cache, {"ttl": TTL}))
        gs.sleep(0.6)
        assert gs.call(pid, ("get", "a")) is None

    report = EXERCISE.run({"test_slowly": test_slowly}, checks=EXERCISE.checks[4:])
    assert report.failed_titles() == TITLES[4:]
    assert report.results[0].why.startswith("test_slowly took 0.6")
