"""Exercises of notebook 06, supervision (``solutions/06_supervision.ipynb``).

06.1 · Choose the strategies for a given tree and prove them with a kill: a
Worker that reads the Cache when it starts, and a Logger that depends on
neither. Killing the Cache must restart the Worker (its copy is stale), and
nothing else; killing the Worker or the Logger restarts only that one. No
flat supervisor does all three (``rest_for_one`` over three children always
drags a neighbour along), so the tree nests: a ``rest_for_one`` supervisor
for the Cache and the Worker under a ``one_for_one`` top. The checks kill
each server by its registered name, whatever shape the tree has, and
``prove(sup)`` is checked on trees the grader builds with each strategy.

06.2 · A job runner: restart types. A ``transient`` job is run again after a
crash and never after it finishes; ``permanent`` reruns finished jobs (until
the runner gives up), ``temporary`` never retries.

06.3 · A flusher that writes its buffer within its shutdown time: trap
exits (or a supervisor's ``"shutdown"`` signal kills it without
``terminate``), write the buffer in ``terminate``, and give the child spec a
shutdown time in seconds that covers a slow write.
"""

from __future__ import annotations

import genserver_lite as gs
from genserver_lite.course import child_pids

from ..core import Exercise
from ..probes import call, cast, down, expect, reason_text, start, state

__all__ = ["STRATEGY", "JOBS", "FLUSHER"]

_WAIT = 1.0     # seconds to wait for a message the learner's code should send


def _failed_child(reason):
    """``(child, innermost reason)`` of a supervisor's ``("failed_to_start_child", id, reason)`` chain."""
    names = []
    while type(reason) is tuple and len(reason) == 3 and reason[0] == "failed_to_start_child":
        names.append(getattr(reason[1], "__name__", repr(reason[1])))
        reason = reason[2]
    return (names[-1] if names else None), reason


def _why(reason) -> str:
    if reason == "noproc":
        return "'noproc' (it called a server that was not running)"
    return reason_text(reason)


def _start_sup(cls, label: str):
    """Start a supervisor class unlinked; a failed start becomes one sentence naming the child."""
    if not isinstance(cls, type) or not issubclass(cls, (gs.Supervisor, gs.DynamicSupervisor)):
        raise AssertionError(f"{label} must be a gs.Supervisor subclass, got {cls!r}")
    try:
        return cls.start(None, timeout=_WAIT)
    except gs.StartError as e:
        child, why = _failed_child(e.reason)
        who = f"its child {child} could not start" if child else "it could not start"
        raise AssertionError(f"{label} failed to start: {who}: {_why(why)}") from e


# -- 06.1 · Choose the strategy for a given tree and prove it with a kill ---------------------

STRATEGY = Exercise("06.1", "Choose the strategy for a given tree and prove it with a kill",
                    notebook="06_supervision", stars=2, minutes=15,
                    names=["Logger", "Cache", "Worker", "App", "prove"])

_SERVERS = (("Logger", "logger"), ("Cache", "cache"), ("Worker", "worker"))   # class, registered name


def _servers() -> dict:
    return {name: gs.whereis(name) for _cls, name in _SERVERS}


def _settle(sup) -> None:
    """Ask every supervisor of the tree, top down.

    A supervisor got a child's EXIT before the caller got that child's DOWN
    (links fire before monitors), so its answer comes after it restarted
    what its strategy restarts; a restarted subtree is asked in its new form.
    """
    for _id, pid, kind, _modules in gs.Supervisor.which_children(sup):
        if kind == "supervisor" and isinstance(pid, gs.Pid):
            _settle(pid)


def _start_app(ns):
    app = _start_sup(ns["App"], "App")
    missing = [cls for cls, name in _SERVERS if gs.whereis(name) is None]
    if missing:
        raise AssertionError(f"App started, but {', '.join(missing)} did not: put each of Logger, "
                             f"Cache and Worker in the tree")
    return app


def _kill(app, victim: str) -> str:
    """Kill the server registered as ``victim``; ``"Logger kept, Cache restarted, ..."`` once the tree settled."""
    before = _servers()
    ref = gs.monitor(before[victim])
    gs.exit(before[victim], "kill")
    down(ref, f"the killed {victim}")
    _settle(app)
    after = _servers()
    words = []
    for cls, name in _SERVERS:
        now = after[name]
        words.append(f"{cls} {'gone' if now is None else 'kept' if now is before[name] else 'restarted'}")
    return ", ".join(words)


@STRATEGY.check("App starts the Logger, the Cache and the Worker, the Cache before the Worker",
                hint="App's init returns gs.supervise([...], strategy=...); the Worker reads the cache "
                     "in its init, so the Cache must be started first")
def _starts(ns):
    _start_app(ns)
    expect(call("worker", "stale?"), False, "the Worker's answer to 'stale?' right after the start")


@STRATEGY.check("killing the Cache restarts the Worker (its copy is stale) and not the Logger",
                hint="put the Cache and the Worker under a supervisor of their own with rest_for_one, "
                     "the Cache first; the Logger goes beside that supervisor, not after the Cache")
def _kill_cache(ns):
    app = _start_app(ns)
    got = _kill(app, "cache")
    expected = "Logger kept, Cache restarted, Worker restarted"
    if got != expected:
        stale = " (the Worker now works from a stale copy: 'stale?' replies True)" \
            if "Worker kept" in got and call("worker", "stale?") is True else ""
        raise AssertionError(f"after killing the Cache: got {got!r}, expected {expected!r}{stale}")


@STRATEGY.check("killing the Worker restarts only the Worker",
                hint="the Cache does not depend on the Worker: with rest_for_one (the Cache first) a "
                     "Worker crash restarts nothing before it; one_for_all would restart the Cache too")
def _kill_worker(ns):
    app = _start_app(ns)
    expect(_kill(app, "worker"), "Logger kept, Cache kept, Worker restarted", "after killing the Worker")


@STRATEGY.check("killing the Logger restarts only the Logger",
                hint="nothing depends on the Logger and it depends on nothing: the top supervisor "
                     "(the Logger beside the Cache-and-Worker supervisor) is one_for_one")
def _kill_logger(ns):
    app = _start_app(ns)
    expect(_kill(app, "logger"), "Logger restarted, Cache kept, Worker kept", "after killing the Logger")


@STRATEGY.check("prove(sup) kills the Cache and reports what restarted, whatever the strategy",
                hint="snapshot gs.course.child_pids(sup), crash the Cache with gs.course.crash_child, "
                     "snapshot again and return gs.course.restarted(before, after)")
def _prove(ns):
    prove = ns["prove"]
    if not callable(prove):
        raise AssertionError(f"prove must be a function of a supervisor, got {prove!r}")
    children = [ns["Logger"], ns["Cache"], ns["Worker"]]
    for strategy, expected in [("one_for_one", "Logger kept, Cache restarted, Worker kept"),
                               ("rest_for_one", "Logger kept, Cache restarted, Worker restarted"),
                               ("one_for_all", "Logger restarted, Cache restarted, Worker restarted")]:
        sup = gs.Supervisor.start(children, strategy=strategy)
        expect(prove(sup), expected, f"prove(sup) with sup a {strategy} supervisor of Logger, Cache, Worker")
        gs.stop(sup, timeout=_WAIT)


# -- 06.2 · A job runner --------------------------------------------------------------------

JOBS = Exercise("06.2", "A job runner that retries crashed jobs but not finished ones",
                notebook="06_supervision", stars=1, minutes=10,
                names=["Job", "job_child", "start_runner"])


def _work(job_id, fails=0):
    """A job's work: tells the check it runs (and in which process), waits for its "go", then
    raises on its first ``fails`` runs (``fails=None``: on every run) or returns.

    Waiting for "go" lets the check monitor the run before it ends, so the
    DOWN carries the run's real exit reason.
    """
    me = gs.self()
    runs = [0]

    def work():
        runs[0] += 1
        gs.send(me, ("ran", job_id, gs.self()))
        gs.receive(lambda m: m == "go")
        if fails is None or runs[0] <= fails:
            raise RuntimeError(f"job {job_id!r} failed on run {runs[0]}")
    return work


def _runner(ns, jobs: dict):
    try:
        sup = ns["start_runner"](jobs)
    except gs.StartError as e:
        child, why = _failed_child(e.reason)
        raise AssertionError(f"start_runner with jobs {list(jobs)} failed: job {child} could not "
                             f"start: {_why(why)}") from e
    if not isinstance(sup, gs.Pid):
        raise AssertionError(f"start_runner must return the supervisor's pid, got {sup!r}")
    return sup


def _run(job_id, nth: str):
    """Wait for the job's next run and let it go on; ``(pid, monitor ref)`` of that run."""
    try:
        pid = gs.receive(lambda m: type(m) is tuple and m[:2] == ("ran", job_id), timeout=_WAIT)[2]
    except gs.ReceiveTimeout:
        raise AssertionError(f"job {job_id!r} did not run {nth} within {_WAIT:g} s") from None
    ref = gs.monitor(pid)
    gs.send(pid, "go")
    return pid, ref


def _finished(job_id, nth: str):
    """Let the job's next run go on; fails the check unless it exits 'normal'."""
    _pid, ref = _run(job_id, nth)
    reason = down(ref, f"job {job_id!r}")
    if reason != "normal":
        raise AssertionError(f"job {job_id!r} exited with {reason_text(reason)}, expected 'normal'")


def _crashed(job_id, nth: str):
    _pid, ref = _run(job_id, nth)
    down(ref, f"job {job_id!r}")


def _extra_runs(job_id) -> int:
    """How many further runs of the job have started (taken out of the mailbox)."""
    n = 0
    while True:
        try:
            gs.receive(lambda m: type(m) is tuple and m[:2] == ("ran", job_id), timeout=0)
        except gs.ReceiveTimeout:
            return n
        n += 1


def _not_rerun(sup, job_id):
    """After the job's last run ended: the runner (asked, so it has handled the exit) did not start it again."""
    try:
        jobs = child_pids(sup)
    except gs.Exit:
        raise AssertionError("the runner is gone: it stopped when the job ended") from None
    if isinstance(jobs.get(job_id), gs.Pid) or _extra_runs(job_id):
        raise AssertionError(f"job {job_id!r} finished with reason 'normal', and the runner started it "
                             f"again")
    return jobs


@JOBS.check("a job that finishes runs once and is not started again",
            hint="a permanent child is restarted even after a normal exit: give each job "
                 "restart='transient' in job_child")
def _finished_once(ns):
    sup = _runner(ns, {"report": _work("report")})
    _finished("report", "once")
    _not_rerun(sup, "report")


@JOBS.check("a job that crashes runs again, until it finishes",
            hint="a temporary child is never restarted, not even after a crash: use "
                 "restart='transient', which restarts only abnormal exits")
def _crashes_retried(ns):
    sup = _runner(ns, {"sync": _work("sync", fails=2)})
    _crashed("sync", "a first time")
    _crashed("sync", "again after its first crash")
    _finished("sync", "a third time after its second crash")
    _not_rerun(sup, "sync")


@JOBS.check("each job is a child of its own, its job id the child id",
            hint="start_runner builds one child per job, job_child(job_id, work), in the order of "
                 "the dict; gs.child_spec(..., id=job_id) sets the id")
def _one_child_per_job(ns):
    sup = _runner(ns, {"a": _work("a"), "b": _work("b")})
    _finished("a", "once")
    _finished("b", "once")
    expect(list(_not_rerun(sup, "a")), ["a", "b"], "the runner's child ids once both jobs finished")
    _not_rerun(sup, "b")


@JOBS.check("a job that always crashes is retried 3 times, then the runner gives up",
            hint="keep the default intensity (3 restarts in 5 s) and a restart type that restarts "
                 "crashes; a broken job then escalates instead of looping forever")
def _gives_up(ns):
    sup = _runner(ns, {"broken": _work("broken", fails=None)})
    ref = gs.monitor(sup)
    for nth in ("a first time", "again after crash 1", "again after crash 2", "again after crash 3"):
        _crashed("broken", nth)
    expect(down(ref, "the runner, after 4 crashes of its job in a row,"), "shutdown",
           "the runner's exit reason after 4 crashes of its job in a row")
    expect(_extra_runs("broken"), 0, "runs of the job after the runner gave up")


# -- 06.3 · A flusher that writes its buffer within its shutdown time -----------------------

FLUSHER = Exercise("06.3", "A flusher that writes its buffer within its shutdown time",
                   notebook="06_supervision", stars=2, minutes=15, names=["Flusher", "flusher_child"])

_SHUTDOWN = 1.0     # the shutdown time the task asks for
_SLOW = 0.3         # seconds a slow write takes in the checks (real time: shutdown is timed in real time)


def _writer(delay: float = 0.0):
    """A ``write(lines)`` that sends ``("written", lines)`` to the check, after ``delay`` seconds."""
    me = gs.self()

    def write(lines):
        if delay:
            gs.sleep(delay)
        gs.send(me, ("written", list(lines)))
    return write


def _writes() -> list:
    """Every ``lines`` written so far (taken out of the mailbox)."""
    got = []
    while True:
        try:
            got.append(gs.receive(lambda m: type(m) is tuple and m[:1] == ("written",), timeout=0)[1])
        except gs.ReceiveTimeout:
            return got


def _lines(reply):
    """A 'pending' reply as a list: the buffer may be a tuple (better: a value) or a list."""
    return list(reply) if isinstance(reply, (list, tuple)) else reply


def _flusher_under_sup(ns, write):
    sup = gs.Supervisor.start([ns["flusher_child"](write)])
    (pid,) = child_pids(sup).values()
    return sup, pid


@FLUSHER.check("lines are buffered: nothing is written before a flush or a shutdown",
               hint="('write', line) appends to the buffer in the state and writes nothing; "
                    "'pending' replies the buffer")
def _buffers(ns):
    pid = start(ns["Flusher"], _writer())
    for line in ("a", "b"):
        cast(pid, ("write", line))
    pending = call(pid, "pending")         # also a barrier: both casts were handled
    expect(_writes(), [], "what write() received before any flush")
    expect(_lines(pending), ["a", "b"], "'pending' after writing 'a' and 'b'")


@FLUSHER.check("flusher_child(write) gives the flusher 1 s to stop",
               hint="return gs.child_spec((Flusher, write), shutdown=1.0): a time in seconds, "
                    "twice the slowest write")
def _spec(ns):
    spec = gs.child_spec(ns["flusher_child"](_writer()))
    got = spec["shutdown"]
    if got == "brutal_kill":
        raise AssertionError("shutdown='brutal_kill' kills the flusher at once: terminate never runs "
                             "and the buffer is lost")
    if got == "infinity":
        raise AssertionError("shutdown='infinity': a flusher stuck in a write would hold up the whole "
                             "tree's shutdown forever")
    if got == 5.0:
        raise AssertionError("shutdown is 5.0, the default: set it in the child spec")
    if isinstance(got, (int, float)) and got >= 100:
        raise AssertionError(f"shutdown={got!r} means {got / 60:.0f} minutes here: times are in "
                             f"seconds (Elixir's shutdown: 1_000 is milliseconds)")
    expect(got, _SHUTDOWN, "the child spec's shutdown")


@FLUSHER.check("stopping its supervisor writes the buffer, once, in order",
               hint="a worker runs terminate on a supervisor's shutdown only if it traps exits: call "
                    "gs.trap_exit(True) in init, and write the buffer in terminate")
def _flush_on_shutdown(ns):
    sup, pid = _flusher_under_sup(ns, _writer())
    for line in ("a", "b", "c"):
        cast(pid, ("write", line))
    state(pid)                       # a barrier: the writes are in the buffer
    gs.stop(sup, timeout=2 * _WAIT)
    got = _writes()
    if not got:
        raise AssertionError("stopping the supervisor wrote nothing: the flusher was shut down "
                             "without running terminate")
    expect(got, [["a", "b", "c"]], "what write() received when the supervisor stopped")


@FLUSHER.check("a slow write (0.3 s) still completes when the supervisor stops",
               hint="the supervisor kills the flusher once its shutdown time is up: shutdown=1.0 in "
                    "the child spec leaves a slow write the time it needs")
def _slow_write(ns):
    sup, pid = _flusher_under_sup(ns, _writer(delay=_SLOW))
    cast(pid, ("write", "slow"))
    state(pid)
    gs.stop(sup, timeout=2 * _WAIT)
    got = _writes()
    if not got:
        raise AssertionError(f"the flusher was killed before its {_SLOW:g} s write completed")
    expect(got, [["slow"]], "what the slow write() received when the supervisor stopped")


@FLUSHER.check("'flush' writes the buffer now and empties it; a shutdown then writes only what came after",
               hint="'flush' calls write(buffer) if the buffer is not empty, replies 'ok' and keeps an "
                    "empty buffer; terminate writes nothing when the buffer is empty")
def _flush_now(ns):
    pid = start(ns["Flusher"], _writer())
    cast(pid, ("write", "a"))
    cast(pid, ("write", "b"))
    expect(call(pid, "flush"), "ok", "the reply to 'flush'")
    expect(_writes(), [["a", "b"]], "what write() received after 'flush'")
    expect(_lines(call(pid, "pending")), [], "'pending' after 'flush'")
    call(pid, "flush")
    expect(_writes(), [], "what write() received from a 'flush' of an empty buffer")
    cast(pid, ("write", "c"))
    gs.stop(pid, timeout=_WAIT)
    expect(_writes(), [["c"]], "what write() received when the flusher stopped after the flush")
