"""Exercises 06.1-06.3 (supervision): the reference solutions pass; plausible learner mistakes fail with the right hints."""

import pytest

import genserver_lite as gs
from grading_asserts import assert_fails_with_hints, grade_fails


def assert_fails_exactly(exercise_id, ns, failing, capsys):
    report, out = assert_fails_with_hints(exercise_id, ns, failing, capsys)
    assert report.seconds < 3.0     # a job that never runs again costs a 1 s wait
    return out


# -- 06.1 · Choose the strategy for a given tree and prove it with a kill ---------------------

STARTS = "App starts the Logger, the Cache and the Worker, the Cache before the Worker"
KILL_CACHE = "killing the Cache restarts the Worker (its copy is stale) and not the Logger"
KILL_WORKER = "killing the Worker restarts only the Worker"
KILL_LOGGER = "killing the Logger restarts only the Logger"
PROVE = "prove(sup) kills the Cache and reports what restarted, whatever the strategy"


class Logger(gs.GenServer):
    """As given in solutions/06_supervision.ipynb."""

    @classmethod
    def start_link(cls, arg=None):
        return super().start_link([], name="logger")

    def init(self, lines):
        return ("ok", lines)


class Cache(gs.GenServer):
    @classmethod
    def start_link(cls, arg=None):
        return super().start_link(arg, name="cache")

    def init(self, arg):
        return ("ok", {"version": gs.make_ref()})

    def handle_call(self, request, from_, state):
        match request:
            case "version":
                return ("reply", state["version"], state)


class Worker(gs.GenServer):
    @classmethod
    def start_link(cls, arg=None):
        return super().start_link(arg, name="worker")

    def init(self, arg):
        return ("ok", {"version": gs.call("cache", "version")})

    def handle_call(self, request, from_, state):
        match request:
            case "stale?":
                return ("reply", gs.call("cache", "version") != state["version"], state)


def tree(top, data=None):
    """An App whose init supervises ``top = (children, strategy)``; ``"Data"`` in it is a Data
    supervisor over ``data = (children, strategy)``."""

    class Data(gs.Supervisor):
        def init(self, arg):
            return gs.supervise(data[0], strategy=data[1])

    class App(gs.Supervisor):
        def init(self, arg):
            return gs.supervise([Data if c == "Data" else c for c in top[0]], strategy=top[1])
    return App


def prove(sup):
    """The reference solution."""
    before = gs.course.child_pids(sup)
    gs.course.crash_child(sup, Cache, kill=True)
    return gs.course.restarted(before, gs.course.child_pids(sup))


def tree_ns(app=None, prove_fn=prove):
    return {"Logger": Logger, "Cache": Cache, "Worker": Worker, "prove": prove_fn,
            "App": app or tree(([Logger, "Data"], "one_for_one"), ([Cache, Worker], "rest_for_one"))}


def test_the_reference_tree_passes_every_check(capsys):
    report = gs.grading.check("06.1", tree_ns())
    assert (report.passed, report.total) == (5, 5)
    assert capsys.readouterr().out.endswith("5/5 checks passed\n")
    assert report.seconds < 1.0


@pytest.mark.parametrize("app, failing", [
    # the nested tree with a wrong strategy in one place
    (tree(([Logger, "Data"], "one_for_one"), ([Cache, Worker], "one_for_one")), [KILL_CACHE]),
    (tree(([Logger, "Data"], "one_for_one"), ([Cache, Worker], "one_for_all")), [KILL_WORKER]),
    (tree(([Logger, "Data"], "one_for_all"), ([Cache, Worker], "rest_for_one")), [KILL_LOGGER]),
    # the children in the wrong order: the Worker cannot read a cache that is not there yet
    (tree(([Logger, "Data"], "one_for_one"), ([Worker, Cache], "rest_for_one")),
     [STARTS, KILL_CACHE, KILL_WORKER, KILL_LOGGER]),
    # one flat supervisor: every strategy and order gets one row of the table wrong
    (tree(([Logger, Cache, Worker], "one_for_one")), [KILL_CACHE]),
    (tree(([Logger, Cache, Worker], "one_for_all")), [KILL_CACHE, KILL_WORKER, KILL_LOGGER]),
    (tree(([Cache, Worker, Logger], "rest_for_one")), [KILL_CACHE, KILL_WORKER]),
    (tree(([Logger, Cache, Worker], "rest_for_one")), [KILL_LOGGER]),
], ids=["data-one_for_one", "data-one_for_all", "app-one_for_all", "worker-first", "flat-one_for_one",
        "flat-one_for_all", "flat-rest_for_one-logger-last", "flat-rest_for_one-logger-first"])
def test_a_wrong_tree_fails_the_right_checks_with_their_hints(app, failing, capsys):
    assert_fails_exactly("06.1", tree_ns(app), failing, capsys)


def test_a_one_for_one_cache_says_the_worker_is_stale(capsys):
    app = tree(([Logger, "Data"], "one_for_one"), ([Cache, Worker], "one_for_one"))
    _, out = grade_fails("06.1", tree_ns(app), capsys)
    assert ("    why: after killing the Cache: got 'Logger kept, Cache restarted, Worker kept', expected "
            "'Logger kept, Cache restarted, Worker restarted' (the Worker now works from a stale copy: "
            "'stale?' replies True)\n") in out


def test_a_logger_after_the_cache_is_named_as_restarted(capsys):
    _, out = grade_fails("06.1", tree_ns(tree(([Cache, Worker, Logger], "rest_for_one"))), capsys)
    assert ("why: after killing the Cache: got 'Logger restarted, Cache restarted, Worker restarted', "
            "expected 'Logger kept, Cache restarted, Worker restarted'\n") in out


def test_a_worker_started_first_says_which_child_failed(capsys):
    app = tree(([Logger, "Data"], "one_for_one"), ([Worker, Cache], "rest_for_one"))
    _, out = grade_fails("06.1", tree_ns(app), capsys)
    assert ("why: App failed to start: its child Worker could not start: 'noproc' (it called a server "
            "that was not running)\n") in out


def test_a_tree_without_the_worker_names_it(capsys):
    _, out = grade_fails("06.1", tree_ns(tree(([Logger, Cache], "one_for_one"))), capsys)
    assert "why: App started, but Worker did not: put each of Logger, Cache and Worker in the tree" in out


@pytest.mark.parametrize("prove_fn, why", [
    (lambda sup: "Logger kept, Cache restarted, Worker restarted",
     "why: prove(sup) with sup a one_for_one supervisor of Logger, Cache, Worker: got 'Logger kept, Cache "
     "restarted, Worker restarted', expected 'Logger kept, Cache restarted, Worker kept'"),
    (lambda sup: (before := gs.course.child_pids(sup),
                  gs.course.crash_child(sup, Worker),
                  gs.course.restarted(before, gs.course.child_pids(sup)))[2],
     "why: prove(sup) with sup a one_for_one supervisor of Logger, Cache, Worker: got 'Logger kept, Cache "
     "kept, Worker restarted', expected 'Logger kept, Cache restarted, Worker kept'"),
], ids=["hard-coded", "kills-the-worker"])
def test_a_prove_that_does_not_experiment_fails(prove_fn, why, capsys):
    out = assert_fails_exactly("06.1", tree_ns(prove_fn=prove_fn), [PROVE], capsys)
    assert why in out


def test_the_derived_tree_stubs_fail_every_check_as_not_implemented(capsys):
    class App(gs.Supervisor):
        def init(self, arg):
            raise NotImplementedError("return gs.supervise([...], strategy=...)")

    def stub(sup):
        raise NotImplementedError("snapshot gs.course.child_pids(sup)")

    report, out = grade_fails("06.1", tree_ns(App, stub), capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: return gs.supervise([...], strategy=...)\n") == 4
    assert out.count("why: not implemented yet: snapshot gs.course.child_pids(sup)\n") == 1


# -- 06.2 · A job runner --------------------------------------------------------------------

FINISHED = "a job that finishes runs once and is not started again"
RETRIED = "a job that crashes runs again, until it finishes"
ONE_EACH = "each job is a child of its own, its job id the child id"
GIVES_UP = "a job that always crashes is retried 3 times, then the runner gives up"


class Job(gs.GenServer):
    """As given in solutions/06_supervision.ipynb."""

    def init(self, work):
        return ("ok", work, ("continue", "run"))

    def handle_continue(self, what, work):
        work()
        return ("stop", "normal", work)


def runner_ns(restart="transient", job_id=None):
    def job_child(jid, work):
        return gs.child_spec((Job, work), id=job_id or jid, restart=restart)

    def start_runner(jobs):
        return gs.Supervisor.start_link([job_child(j, w) for j, w in jobs.items()], strategy="one_for_one")
    return {"Job": Job, "job_child": job_child, "start_runner": start_runner}


def test_the_reference_runner_passes_every_check(capsys):
    report = gs.grading.check("06.2", runner_ns())
    assert (report.passed, report.total) == (4, 4)
    assert capsys.readouterr().out.endswith("4/4 checks passed\n")
    assert report.seconds < 1.0


@pytest.mark.parametrize("ns, failing, why", [
    (runner_ns("permanent"), [FINISHED, RETRIED, ONE_EACH],
     ["why: job 'report' finished with reason 'normal', and the runner started it again\n"]),
    (runner_ns("temporary"), [RETRIED, ONE_EACH, GIVES_UP],
     ["why: job 'sync' did not run again after its first crash within 1 s\n",
      "why: the runner's child ids once both jobs finished: got [], expected ['a', 'b']\n",
      "why: job 'broken' did not run again after crash 1 within 1 s\n"]),
    (runner_ns(job_id="job"), [ONE_EACH], ["why: ChildSpecError: "]),
], ids=["permanent", "temporary", "one-id-for-all"])
def test_a_wrong_runner_fails_the_right_checks_with_their_hints(ns, failing, why, capsys):
    out = assert_fails_exactly("06.2", ns, failing, capsys)
    for line in why:
        assert line in out


def test_the_derived_runner_stubs_fail_every_check_as_not_implemented(capsys):
    def job_child(job_id, work):
        raise NotImplementedError("gs.child_spec((Job, work), id=job_id, restart=...)")

    def start_runner(jobs):
        raise NotImplementedError("gs.Supervisor.start_link([job_child(...) for each job])")

    report, out = grade_fails("06.2", {"Job": Job, "job_child": job_child, "start_runner": start_runner}, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: gs.Supervisor.start_link") == 4


# -- 06.3 · A flusher -----------------------------------------------------------------------

BUFFERED = "lines are buffered: nothing is written before a flush or a shutdown"
SPEC = "flusher_child(write) gives the flusher 1 s to stop"
ON_SHUTDOWN = "stopping its supervisor writes the buffer, once, in order"
SLOW = "a slow write (0.3 s) still completes when the supervisor stops"
FLUSH_NOW = "'flush' writes the buffer now and empties it; a shutdown then writes only what came after"


class Flusher(gs.GenServer):
    """The reference solution: the buffer is a tuple, so the 'pending' reply is a value."""

    def init(self, write):
        gs.trap_exit(True)
        return ("ok", {"write": write, "buffer": ()})

    def handle_cast(self, request, state):
        match request:
            case ("write", line):
                return ("noreply", {**state, "buffer": (*state["buffer"], line)})

    def handle_call(self, request, from_, state):
        match request:
            case "pending":
                return ("reply", state["buffer"], state)
            case "flush":
                if state["buffer"]:
                    state["write"](state["buffer"])
                return ("reply", "ok", {**state, "buffer": ()})

    def terminate(self, reason, state):
        if state["buffer"]:
            state["write"](state["buffer"])


class ListBuffer(Flusher):
    """A list for the buffer, rebuilt on each write (never changed in place): it passes too."""

    def init(self, write):
        gs.trap_exit(True)
        return ("ok", {"write": write, "buffer": []})

    def handle_cast(self, request, state):
        match request:
            case ("write", line):
                return ("noreply", {**state, "buffer": [*state["buffer"], line]})

    def handle_call(self, request, from_, state):
        if request == "flush":
            if state["buffer"]:
                state["write"](state["buffer"])
            return ("reply", "ok", {**state, "buffer": []})
        return super().handle_call(request, from_, state)


class DoesNotTrap(Flusher):
    """Forgets trap_exit: a supervisor's "shutdown" kills it before terminate."""

    def init(self, write):
        return ("ok", {"write": write, "buffer": ()})


class WritesEachLine(Flusher):
    """No buffer: every line is written as it comes."""

    def handle_cast(self, request, state):
        state["write"]([request[1]])
        return ("noreply", state)


class WritesEmptyBuffers(Flusher):
    """Calls write even with nothing to write."""

    def handle_call(self, request, from_, state):
        if request == "flush":
            state["write"](state["buffer"])
            return ("reply", "ok", {**state, "buffer": ()})
        return super().handle_call(request, from_, state)


class FlushKeepsTheBuffer(Flusher):
    """Writes on flush but forgets to empty the buffer: a shutdown writes the lines again."""

    def handle_call(self, request, from_, state):
        if request == "flush":
            state["write"](state["buffer"])
            return ("reply", "ok", state)
        return super().handle_call(request, from_, state)


def flusher_ns(cls=Flusher, **overrides):
    opts = {"shutdown": 1.0, **overrides}

    def flusher_child(write):
        return gs.child_spec((cls, write), **opts)
    return {"Flusher": cls, "flusher_child": flusher_child}


@pytest.mark.parametrize("cls", [Flusher, ListBuffer], ids=["tuple-buffer", "list-buffer"])
def test_the_reference_flusher_passes_every_check(cls, capsys):
    report = gs.grading.check("06.3", flusher_ns(cls))
    assert (report.passed, report.total) == (5, 5)
    assert capsys.readouterr().out.endswith("5/5 checks passed\n")
    assert report.seconds < 1.5


@pytest.mark.parametrize("ns, failing, why", [
    (flusher_ns(DoesNotTrap), [ON_SHUTDOWN, SLOW],
     "why: stopping the supervisor wrote nothing: the flusher was shut down without running terminate\n"),
    (flusher_ns(shutdown="brutal_kill"), [SPEC, ON_SHUTDOWN, SLOW],
     "why: shutdown='brutal_kill' kills the flusher at once: terminate never runs and the buffer is lost\n"),
    (flusher_ns(shutdown=1000), [SPEC],
     "why: shutdown=1000 means 17 minutes here: times are in seconds (Elixir's shutdown: 1_000 is "
     "milliseconds)\n"),
    (flusher_ns(shutdown=0.1), [SPEC, SLOW], "why: the flusher was killed before its 0.3 s write completed\n"),
    (flusher_ns(shutdown="infinity"), [SPEC],
     "why: shutdown='infinity': a flusher stuck in a write would hold up the whole tree's shutdown forever\n"),
    ({"Flusher": Flusher, "flusher_child": lambda write: (Flusher, write)}, [SPEC],
     "why: shutdown is 5.0, the default: set it in the child spec\n"),
    (flusher_ns(WritesEachLine), [BUFFERED, ON_SHUTDOWN, FLUSH_NOW],
     "why: what write() received before any flush: got [['a'], ['b']], expected []\n"),
    (flusher_ns(WritesEmptyBuffers), [FLUSH_NOW],
     "why: what write() received from a 'flush' of an empty buffer: got [[]], expected []\n"),
    (flusher_ns(FlushKeepsTheBuffer), [FLUSH_NOW], "why: 'pending' after 'flush': got ['a', 'b'], expected []\n"),
], ids=["no-trap_exit", "brutal_kill", "milliseconds", "too-short", "infinity", "default-shutdown",
        "no-buffer", "writes-empty", "flush-keeps-buffer"])
def test_a_wrong_flusher_fails_the_right_checks_with_their_hints(ns, failing, why, capsys):
    out = assert_fails_exactly("06.3", ns, failing, capsys)
    assert why in out


def test_the_derived_flusher_stubs_fail_every_check_as_not_implemented(capsys):
    class Stub(Flusher):
        def init(self, write):
            raise NotImplementedError("trap exits, so a supervisor's shutdown runs terminate")

    def flusher_child(write):
        raise NotImplementedError("gs.child_spec((Flusher, write), shutdown=...)")

    report, out = grade_fails("06.3", {"Flusher": Stub, "flusher_child": flusher_child}, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet") == 5
