"""The grading core: exercise declarations, the runner (clean runtime, time limits), the report."""

import importlib.util
import logging
import time

import pytest

import genserver_lite as gs
from genserver_lite.grading import core
from genserver_lite.grading.core import Exercise, GradingFailed


def throwaway(**kw):
    opts = dict(notebook="99_scratch", stars=2, minutes=5, register=False)
    opts.update(kw)
    return Exercise("99.1", "Scratch", **opts)


class Echo(gs.GenServer):
    def init(self, arg):
        return ("ok", arg)

    def handle_call(self, request, from_, state):
        return ("reply", request, state)


# -- declarations -------------------------------------------------------------------------


@pytest.mark.parametrize("args, culprit", [
    (dict(id="3.1"), "'NN.k'"),
    (dict(id="03.1", notebook="04_other"), "does not match notebook"),
    (dict(notebook="03 template"), "notebook="),
    (dict(stars=4), "stars"),
    (dict(stars=True), "stars"),
    (dict(minutes=0), "minutes"),
    (dict(minutes=2.5), "minutes"),
    (dict(names="Stack"), "names"),
    (dict(names=["not an identifier"]), "names"),
    (dict(budget=5.0), "budget"),
    (dict(title="  "), "title"),
])
def test_a_malformed_exercise_is_refused_naming_the_field(args, culprit):
    opts = dict(id="03.9", title="T", notebook="03_genserver_template", stars=1, minutes=5,
                register=False)
    opts.update(args)
    ex_id, title = opts.pop("id"), opts.pop("title")
    with pytest.raises(ValueError, match=culprit):
        Exercise(ex_id, title, **opts)


def test_a_check_needs_a_unique_title_a_hint_and_a_sane_timeout():
    ex = throwaway()
    ex.check("one", hint="h")(lambda ns: None)
    with pytest.raises(ValueError, match="two checks are titled 'one'"):
        ex.check("one", hint="h")
    with pytest.raises(ValueError, match="needs a hint"):
        ex.check("two", hint=" ")
    with pytest.raises(ValueError, match="timeout"):
        ex.check("three", hint="h", timeout=9)
    with pytest.raises(TypeError, match="must decorate a function"):
        ex.check("four", hint="h")(42)


def test_an_id_registered_twice_for_different_exercises_is_refused():
    with pytest.raises(ValueError, match="03.1 is already registered for 'A Stack server'"):
        Exercise("03.1", "Another", notebook="03_genserver_template", stars=1, minutes=5)


def test_the_registry_lists_and_finds_exercises():
    ids = [e.id for e in gs.grading.exercises()]
    assert "03.1" in ids
    assert ids == sorted(ids, key=lambda i: tuple(int(x) for x in i.split(".")))
    assert [e.id for e in gs.grading.exercises("03_genserver_template")][0] == "03.1"
    with pytest.raises(LookupError, match=r"no exercises for notebook '01_processes_and_messages' "
                                          r"\(notebooks with exercises: 03_genserver_template, "):
        gs.grading.exercises("01_processes_and_messages")
    stack = gs.grading.get("03.1")
    assert (stack.difficulty, stack.minutes, stack.names) == ("★", 10, ["Stack"])
    with pytest.raises(LookupError, match=r"no exercise '99.99' \(known: .*03.1"):
        gs.grading.get("99.99")


# -- running checks -------------------------------------------------------------------------


def test_report_text_is_deterministic_with_hint_and_why_on_failure():
    ex = throwaway()

    @ex.check("echo replies its request", hint="reply with the request")
    def _(ns):
        pid = gs.grading.probes.start(ns["Echo"], 0)
        assert gs.grading.probes.call(pid, "hi") == "hi"

    @ex.check("one is two", hint="arithmetic is hard")
    def _(ns):
        gs.grading.probes.expect(1, 2, "one")

    report = ex.run({"Echo": Echo})
    assert report.text() == (
        "Exercise 99.1 · Scratch\n"
        "✓ echo replies its request\n"
        "✗ one is two\n"
        "    hint: arithmetic is hard\n"
        "    why: one: got 1, expected 2\n"
        "1/2 checks passed")
    assert (report.passed, report.total, report.ok, report.failed_titles()) == (1, 2, False, ["one is two"])
    assert repr(report) == "<Report 99.1 · Scratch: 1/2 checks passed>"
    assert ex.run({"Echo": Echo}).text() == report.text()


def test_a_missing_name_fails_every_check_without_running_it():
    ex = throwaway(names=["Stack", "Queue"])
    ran = []
    ex.check("c", hint="define them")(lambda ns: ran.append(1))
    report = ex.run({"Queue": 1})
    assert not ran
    assert report.results[0].why == "Stack is not defined: run the cell that defines it"
    assert "Stack, Queue are not defined" in ex.run({}).results[0].why


def test_a_name_asked_for_but_not_declared_is_a_clear_failure():
    ex = throwaway()
    ex.check("c", hint="h")(lambda ns: ns["Helper"])
    assert ex.run({}).results[0].why == "'Helper' is not defined: run the cell that defines it"


def test_a_stub_raising_not_implemented_is_reported_as_such_even_through_a_crash():
    class Stub(gs.GenServer):
        def init(self, arg):
            return ("ok", arg)

        def handle_call(self, request, from_, state):
            raise NotImplementedError("reply with the request")

    ex = throwaway()
    ex.check("c", hint="h")(lambda ns: gs.grading.probes.call(gs.grading.probes.start(ns["S"]), "x"))
    ex.check("d", hint="h")(lambda ns: gs.call(gs.grading.probes.start(ns["S"]), "x", timeout=1))
    results = ex.run({"S": Stub}).results
    assert [r.why for r in results] == ["not implemented yet: reply with the request"] * 2


def test_a_bare_assert_shows_the_failing_line_and_other_errors_their_type(tmp_path):
    ex = throwaway()
    # a module pytest does not rewrite, as an exercise module is not
    (tmp_path / "bare_check.py").write_text("def bare(ns):\n    x = 1\n    assert x == 2\n")
    spec = importlib.util.spec_from_file_location("bare_check", tmp_path / "bare_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ex.check("bare", hint="h")(module.bare)

    @ex.check("type error", hint="h")
    def _(ns):
        len(5)

    @ex.check("exit", hint="h")
    def _(ns):
        raise SystemExit(3)

    whys = [r.why for r in ex.run({}).results]
    assert whys == ["failed: assert x == 2", "TypeError: object of type 'int' has no len()",
                    "sys.exit(3) was called during the check"]


def test_each_check_starts_and_ends_with_a_clean_runtime():
    ex = throwaway()
    seen = []

    @ex.check("first", hint="h")
    def _(ns):
        seen.append(len(gs.processes()))
        Echo.start(0, name="left_behind")

    @ex.check("second", hint="h")
    def _(ns):
        seen.append(gs.whereis("left_behind"))

    Echo.start(0, name="from_the_notebook")
    assert ex.run({}).ok
    assert seen[1] is None
    assert gs.whereis("from_the_notebook") is None and gs.whereis("left_behind") is None


def test_a_check_that_hangs_fails_at_its_timeout_and_is_woken():
    ex = throwaway()
    ex.check("waits forever", hint="reply", timeout=0.3)(lambda ns: gs.receive())
    ex.check("still runs", hint="h")(lambda ns: None)
    t0 = time.monotonic()
    report = ex.run({})
    assert time.monotonic() - t0 < 1.5
    assert report.results[0].why.startswith("took longer than 0.3 s")
    assert report.results[1].ok


def test_the_exercise_budget_bounds_the_whole_run():
    ex = throwaway(budget=0.6)
    for i in range(4):
        ex.check(f"slow {i}", hint="h", timeout=0.5)(lambda ns: gs.receive())
    t0 = time.monotonic()
    whys = [r.why for r in ex.run({}).results]
    assert time.monotonic() - t0 < 1.5
    assert whys[0].startswith("took longer than 0.5 s")
    assert "time budget (0.6 s) ran out" in whys[1]
    assert whys[-1] == "not run: the exercise's time budget (0.6 s) ran out"


def test_crash_reports_of_servers_crashed_by_a_check_are_silenced(caplog):
    class Crashy(gs.GenServer):
        def init(self, arg):
            return ("ok", arg)

        def handle_call(self, request, from_, state):
            raise ValueError("boom")

    ex = throwaway()
    ex.check("c", hint="h")(lambda ns: gs.grading.probes.call(gs.grading.probes.start(Crashy), "x"))
    with caplog.at_level(logging.ERROR, logger="genserver_lite"):
        report = ex.run({})
    assert report.results[0].why == "the server crashed handling call 'x': ValueError: boom"
    assert not [r for r in caplog.records if r.name == "genserver_lite"]
    assert not logging.getLogger("genserver_lite").filters


def test_what_the_learners_code_prints_during_the_checks_is_not_in_the_output(capsys):
    class Chatty(gs.GenServer):
        def init(self, arg):
            print("starting")
            return ("ok", arg)

        def handle_call(self, request, from_, state):
            print("debug:", request)
            import sys
            print("oops", file=sys.stderr)
            return ("reply", request, state)

    ex = throwaway()
    ex.check("c", hint="h")(lambda ns: gs.grading.probes.call(gs.grading.probes.start(Chatty), "x"))
    assert ex.run({}).ok
    assert capsys.readouterr() == ("", "")


def test_check_prints_the_report_and_raises_grading_failed(capsys):
    ex = Exercise("99.7", "Registered scratch", notebook="99_scratch", stars=1, minutes=1)
    try:
        ex.check("never", hint="h")(lambda ns: gs.grading.probes.expect(ns["x"], 1, "x"))
        with pytest.raises(GradingFailed) as info:
            gs.grading.check("99.7", {"x": 0})
        assert isinstance(info.value, AssertionError)
        assert str(info.value) == "exercise 99.7: 0/1 checks passed; failed: never"
        assert capsys.readouterr().out.endswith("0/1 checks passed\n")
        assert gs.grading.check("99.7", {"x": 1}).ok
        assert capsys.readouterr().out == "Exercise 99.7 · Registered scratch\n✓ never\n1/1 checks passed\n"
    finally:
        core._REGISTRY.pop("99.7")


def test_wrong_uses_of_run():
    ex = throwaway()
    with pytest.raises(ValueError, match="has no checks"):
        ex.run({})
    ex.check("c", hint="h")(lambda ns: None)
    with pytest.raises(TypeError, match="must be a mapping"):
        ex.run([])

    def inside():
        try:
            ex.run({})
        except RuntimeError as e:
            gs.send(parent, str(e))

    parent = gs.self()
    gs.spawn(inside)
    assert "checks cannot run inside a process" in gs.receive(timeout=2)
