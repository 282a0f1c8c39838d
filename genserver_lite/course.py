"""Small conveniences the notebooks use but do not teach.

Nothing here is part of the OTP model; it keeps lessons short and their
output readable.
"""

from __future__ import annotations

import contextlib
import logging
import sys

__all__ = ["quiet_logs", "silenced", "child_pids", "crash_child", "restarted"]


class _OneLine(logging.Formatter):
    """A crash report cut to its first lines: who crashed and why, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        lines = record.getMessage().splitlines()
        head = lines[0] if lines else ""
        reason = next((ln for ln in lines if ln.startswith("** Reason")), "")
        text = f"{record.levelname}: {head}" + (f" | {reason[3:]}" if reason else "")
        return text


def quiet_logs(level: int = logging.WARNING, tracebacks: bool = False) -> None:
    """Show genserver_lite's crash reports on stderr, one line each (set ``tracebacks=True`` for the full report).

    Crash reports are how OTP tells you a process died; in a lesson that
    crashes things on purpose, one line each is enough.
    """
    logger = logging.getLogger("genserver_lite")
    for h in list(logger.handlers):
        if getattr(h, "_gs_course", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._gs_course = True
    if not tracebacks:
        handler.setFormatter(_OneLine())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


@contextlib.contextmanager
def silenced():
    """Hide genserver_lite's crash reports inside the block (a demo that crashes hundreds of times)."""
    logger = logging.getLogger("genserver_lite")
    old = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(old)


def child_pids(sup) -> dict:
    """``{child id: pid}`` of a supervisor's children, in start order (None for a stopped child).

    Runs in the caller: one ``which_children`` call to the supervisor.
    """
    from .supervisor import Supervisor
    return {cid: pid for cid, pid, _type, _modules in Supervisor.which_children(sup)}


def crash_child(sup, child, reason="injected crash", *, kill: bool = False, timeout: float = 5.0) -> None:
    """Crash one child of a supervisor and return once the supervisor has dealt with the crash.

    ``child`` is a child id (or a child's pid). The child crashes inside its
    loop through ``gs.testing.crash`` (``terminate`` runs, the crash is
    logged), or, with ``kill=True``, is killed from outside with
    ``gs.exit(pid, "kill")``. Then the caller waits for the child's DOWN and
    asks the supervisor a question: the supervisor got the child's EXIT
    before the caller got the DOWN (links fire before monitors), so its
    answer comes after it restarted what its strategy restarts. If the
    supervisor gave up instead (restart intensity), it is gone and this
    returns all the same. (A restart whose start function fails is retried
    later, by a message the supervisor sends itself: that retry may still be
    pending.)

    Raises:
        LookupError: the supervisor has no running child with that id.
    """
    from ._kernel import Pid
    from .errors import Exit
    from .process import exit as exit_signal, monitor, receive
    from .supervisor import Supervisor
    from .testing import crash
    if type(child) is Pid:
        pid = child
    else:
        pid = child_pids(sup).get(child)
        if type(pid) is not Pid:
            raise LookupError(f"crash_child: supervisor {sup!r} has no running child with id {child!r}")
    ref = monitor(pid)
    if kill:
        exit_signal(pid, "kill")
    else:
        try:
            crash(pid, reason)
        except Exit:        # it died before it took the crash: the DOWN below still comes
            pass
    receive(lambda m: type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is ref, timeout)
    try:
        Supervisor.which_children(sup)      # a barrier: answered after the EXIT was handled
    except Exit:
        pass                                # the supervisor gave up and exited


def restarted(before: dict, after: dict) -> str:
    """Which children got a new pid between two :func:`child_pids` snapshots, in words.

    ``"a kept, b restarted, c restarted"``: names, never pids, so a lesson's
    output is the same on every run. A child no longer listed is ``gone``, one
    listed without a pid is ``stopped``, one whose restart is pending ``restarting``.
    """
    words = []
    for cid, old in before.items():
        name = getattr(cid, "__name__", cid)
        if cid not in after:
            words.append(f"{name} gone")
        elif after[cid] is None:
            words.append(f"{name} stopped")
        elif after[cid] == "restarting":
            words.append(f"{name} restarting")
        else:
            words.append(f"{name} {'kept' if after[cid] is old else 'restarted'}")
    return ", ".join(words)


# -- notebooks 08 and 09: a flaky dependency, timers step by step, tests without pytest, pictures --------

import inspect
import math
import threading

from . import timer as _timer
from .genserver import GenServer


class FlakyService:
    """A remote dependency that fails on cue, for the lessons on retries and circuit breakers (not a process).

    Its methods run in the calling process (a task, a server, the shell).
    Each attempt's outcome comes from ``script``, one character per attempt,
    the last one repeating: ``"."`` succeeds, ``"x"`` fails, ``"!"`` raises
    ``RuntimeError`` (a bug on the client's side, not a failure of the
    service), ``"h"`` hangs ``hang`` seconds (``gs.sleep``, which a kill
    interrupts). Or, with ``outages=[(start, end), ...]``, from the timer
    clock: down from ``start`` until ``end``, up otherwise. Each attempt is
    recorded with the timer clock's time (a FakeClock's when one is
    installed), after ``latency`` seconds of real waiting.

    Raises:
        ValueError: an unknown character in ``script``, or both a script and outages.
    """

    def __init__(self, script: str | None = None, *, outages=(), latency: float = 0.0,
                 hang: float = 3600.0):
        if script is not None and outages:
            raise ValueError("FlakyService takes a script or outages, not both")
        script = "." if script is None else script
        bad = sorted(set(script) - set(".x!h"))
        if not script or bad:
            raise ValueError(f"FlakyService script must be made of '.', 'x', '!' and 'h', got {script!r}")
        self.script, self.outages = script, [(float(a), float(b)) for a, b in outages]
        self.latency, self.hang = latency, hang
        self._lock = threading.Lock()
        self._log: list = []

    def _outcome(self, key) -> str:
        with self._lock:
            now = _timer._clock.now()
            n = len(self._log)
            if self.outages:
                mark = "x" if any(a <= now < b for a, b in self.outages) else "."
            else:
                mark = self.script[min(n, len(self.script) - 1)]
            self._log.append((now, key, mark))
        from .process import sleep
        if self.latency:
            sleep(self.latency)
        if mark == "h":
            sleep(self.hang)
        if mark == "!":
            raise RuntimeError(f"malformed response for {key!r}")
        return mark

    def fetch(self, key="data"):
        """One attempt, answered the Elixir way: ``("ok", data)`` or ``("error", "unavailable")``."""
        if self._outcome(key) == ".":
            return ("ok", f"{key}: fresh")
        return ("error", "unavailable")

    def request(self, key="data"):
        """One attempt, answered the Python way: the data, or ``ConnectionError`` raised."""
        if self._outcome(key) == ".":
            return f"{key}: fresh"
        raise ConnectionError(f"{key}: service unavailable")

    @property
    def attempts(self) -> list:
        """``[(time, key, outcome)]`` so far; outcome is ``"."``, ``"x"``, ``"!"`` or ``"h"``."""
        with self._lock:
            return list(self._log)

    def times(self) -> list:
        return [t for t, _, _ in self.attempts]

    def gaps(self) -> list:
        """Seconds between consecutive attempts: the waits a retry loop chose."""
        ts = self.times()
        return [b - a for a, b in zip(ts, ts[1:])]

    def __repr__(self) -> str:
        return f"<FlakyService {self.script if not self.outages else self.outages!r}: {len(self._log)} attempts>"


class ServiceProcess(GenServer):
    """A :class:`FlakyService` behind a process, so traces draw it: ``gs.call(name, ("fetch", key))``."""

    def init(self, service):
        return ("ok", service)

    def handle_call(self, request, from_, service):
        match request:
            case ("fetch", key):
                return ("reply", service.fetch(key), service)
        return super().handle_call(request, from_, service)


def pending_timers() -> list:
    """Seconds left on every pending timer, soonest first (what a FakeClock's ``advance`` would fire next)."""
    with _timer._lock:
        now = _timer._clock.now()
        return sorted(max(0.0, ref.due - now) for _, _, ref in _timer._heap if ref.live)


def run_timers(clock, until, *, timeout: float = 1.0) -> list:
    """Step a FakeClock timer by timer, each as soon as it is set, until ``until()`` is true.

    Made for one process driven by its own timers (a retry loop): between
    two timers it waits, polling like ``gs.testing.wait_until``, for
    ``until()`` or a pending timer, so the process has set its next timer
    before the clock moves, and each wait is measured exactly. Returns the
    seconds advanced at each step.

    Raises:
        AssertionError: neither came within ``timeout`` seconds (a process
            that sleeps instead of setting a timer).
    """
    from .testing import wait_until
    steps = []
    while True:
        def ready():
            return "done" if until() else pending_timers()
        try:
            got = wait_until(ready, timeout)
        except AssertionError:
            raise AssertionError(f"no timer was set and the condition is still false after {timeout} s "
                                 f"(does the process sleep instead of using send_after?)") from None
        if got == "done":
            return steps
        steps.append(got[0])
        clock.advance(got[0])
        while pending_timers()[:1] == [0.0]:     # a timer due now that float rounding left behind
            clock.advance(0.0)


class TestRun(tuple):
    """The outcome of one test run by :func:`run_tests`: ``(name, error or None)``; prints as a report line."""

    __test__ = False    # not a test class, whatever pytest thinks of the name

    def __new__(cls, name, error):
        return super().__new__(cls, (name, error))

    @property
    def passed(self) -> bool:
        return self[1] is None

    def __str__(self) -> str:
        if self[1] is None:
            return f"{self[0]}: passed"
        e = self[1]
        text = str(e).splitlines()[0] if str(e) else ""
        return f"{self[0]}: FAILED {type(e).__name__}" + (f": {text}" if text else "")


_STOP = (KeyboardInterrupt, SystemExit)     # what run_tests lets through: the user or the program stopping


def run_tests(tests, **fixtures) -> list:
    """Run test functions as pytest would, with the package's fixtures; returns a :class:`TestRun` per test.

    A test asks for fixtures by parameter name: ``start_supervised`` and
    ``fake_clock`` run through the code of the package's pytest plugin
    (:mod:`genserver_lite.pytest_plugin`, imported here); any other name
    comes from ``fixtures`` (``run_tests([test_a], Cache=Cache)``). As in
    pytest, a fixture's teardown runs after its test whether the test passed
    or failed (a failing teardown fails a passing test). Tests run one after
    another in the calling thread, each between two ``gs.reset()`` calls (as
    the test suite's autouse fixture does), so call it from a cell or a test,
    never from a process.
    """
    from . import pytest_plugin
    from .names import reset
    builtin = {"start_supervised": pytest_plugin.start_supervised, "fake_clock": pytest_plugin.fake_clock}
    results = []
    for fn in tests:
        name = getattr(fn, "__name__", repr(fn))
        error = None
        active = []                  # fixture generators set up, to tear down in reverse order
        reset()
        try:
            kwargs = {}
            for p in inspect.signature(fn).parameters:
                if p in fixtures:
                    kwargs[p] = fixtures[p]
                elif p in builtin:
                    gen = inspect.unwrap(builtin[p])()
                    kwargs[p] = next(gen)
                    active.append(gen)
                else:
                    known = sorted({*builtin, *fixtures})
                    raise LookupError(f"{name} asks for a fixture {p!r}; known: {', '.join(known)}")
            fn(**kwargs)
        except _STOP:
            raise
        except BaseException as e:  # noqa: BLE001 - a failed test is a result (pytest.fail is a BaseException)
            error = e
        finally:
            for gen in reversed(active):
                try:
                    next(gen)
                except StopIteration:
                    pass
                except _STOP:
                    raise
                except BaseException as e:  # noqa: BLE001 - a teardown error fails the test, as in pytest
                    error = error or e
            reset()
        results.append(TestRun(name, error))
    return results


def breaker_timeline(states, calls, *, outages=(), title=None):
    """A circuit breaker's state over time (top) and each call's outcome (bottom), as a figure.

    ``states``: ``[(time, status)]`` samples, status ``"closed"``,
    ``"half_open"`` or ``"open"``; ``calls``: ``[(time, outcome)]``, outcome
    ``"ok"``, ``"failed"`` or ``"rejected"``; ``outages``: ``[(start, end)]``
    when the dependency was down, shaded.
    """
    from .viz.style import new_figure
    levels = {"closed": 0, "half_open": 1, "open": 2}
    rows = {"ok": 0, "failed": 1, "rejected": 2}
    colours = {"ok": "#2e7d32", "failed": "#c62828", "rejected": "#9e9e9e"}
    markers = {"ok": "o", "failed": "x", "rejected": "s"}
    fig = new_figure(9.0, 4.2)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.2, 1]})
    ts = [t for t, _ in states]
    top.step(ts, [levels[s] for _, s in states], where="post", color="#1f3a93", lw=2)
    top.set_yticks(list(levels.values()), list(levels))
    top.set_ylim(-0.5, 2.5)
    top.set_ylabel("breaker")
    for outcome, y in rows.items():
        xs = [t for t, o in calls if o == outcome]
        bottom.scatter(xs, [y] * len(xs), marker=markers[outcome], color=colours[outcome], s=28,
                       label=f"{outcome} ({len(xs)})", zorder=3)
    bottom.set_yticks(list(rows.values()), list(rows))
    bottom.set_ylim(-0.6, 2.6)
    bottom.set_ylabel("calls")
    bottom.set_xlabel("time (s)")
    for ax in (top, bottom):
        for a, b in outages:
            ax.axvspan(a, b, color="#ffebee", lw=0, zorder=0)
        ax.grid(axis="x", color="#eeeeee")
    if outages:
        top.text(outages[0][0], 2.15, " dependency down", color="#b71c1c", fontsize=8)
    bottom.legend(loc="upper right", fontsize=7, ncol=3, frameon=False, bbox_to_anchor=(1, 1.22))
    top.set_title(title or "circuit breaker state under a failing dependency", fontsize=10)
    fig.subplots_adjust(left=0.11, right=0.98, top=0.92, bottom=0.12, hspace=0.25)
    return fig


def attempts_timeline(runs: dict, *, recovered_at=None, title=None):
    """Retry schedules side by side: one panel per policy, a row per client, a mark per attempt.

    ``runs``: ``{label: [[(time, ok), ...] per client]}``; ``recovered_at``:
    when the dependency came back (a dashed line).
    """
    from .viz.style import new_figure
    fig = new_figure(9.0, 1.0 + 2.2 * len(runs))
    axes = fig.subplots(len(runs), 1, sharex=True, squeeze=False)[:, 0]
    end = max((t for clients in runs.values() for c in clients for t, _ in c), default=1.0)
    for ax, (label, clients) in zip(axes, runs.items()):
        for row, attempts in enumerate(clients):
            for ok in (False, True):
                xs = [t for t, o in attempts if o == ok]
                ax.scatter(xs, [row] * len(xs), s=16, marker="o" if ok else "x",
                           color="#2e7d32" if ok else "#c62828", label="succeeded" if ok else "failed")
        n = sum(len(c) for c in clients)
        ax.set_title(f"{label}: {n} attempts", fontsize=9, loc="left")
        ax.set_ylabel("client")
        ax.set_yticks([])
        ax.set_ylim(-1, len(clients))
        if recovered_at is not None:
            ax.axvline(recovered_at, color="#2e7d32", ls="--", lw=1, label="the dependency is back")
        ax.set_xlim(-0.3, math.ceil(end) + 0.3)
    legend = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    fig.legend(list(legend.values()), list(legend), loc="upper right", fontsize=8, frameon=False, ncol=3)
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=10, x=0.08, ha="left")
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.55 / fig.get_figheight(), bottom=0.12, hspace=0.45)
    return fig


__all__ += ["FlakyService", "ServiceProcess", "pending_timers", "run_timers", "TestRun", "run_tests",
            "breaker_timeline", "attempts_timeline"]
