"""Exercises and their checks: a registry, a runner with a clean runtime and a time budget, a report.

This is the course's autograder, in the spirit of an Exercism test suite or
an nbgrader hidden test (there is no OTP original: in Elixir an exercise is
an ExUnit file). An :class:`Exercise` is declared once, in
``genserver_lite/grading/exercises/nbNN.py``, with its checks::

    STACK = Exercise("03.1", "A Stack server", notebook="03_genserver_template",
                     stars=1, minutes=10, names=["Stack"])

    @STACK.check("pop replies the last item pushed", hint="push puts the item on top")
    def _(ns):
        pid = probes.start(ns["Stack"], [1])
        ...

A check is a function of the learner's namespace (the notebook's
``globals()``) that raises on failure. :func:`check`, which the notebook's
check cell calls, runs every check of one exercise, each from a clean runtime
(``gs.reset()`` before and after) in its own thread with a time limit, prints
a deterministic report and raises :class:`GradingFailed` if a check failed::

    Exercise 03.1 · A Stack server
    ✓ pop replies the last item pushed
    ✗ pop on an empty stack replies None and keeps the server alive
        hint: add a case for the empty list that replies None
        why: the server crashed handling call 'pop': ValueError: not enough values to unpack
    1/2 checks passed

A missing name or a ``NotImplementedError`` from a stub is a ✗ with the hint,
never a crash of the grader. The checks run in a grader thread (a "shell"
process of its own), never in the learner's server processes.
"""

from __future__ import annotations

import importlib
import io
import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import _kernel as k
from .. import names as _names
from ..errors import Exit, StartError

__all__ = ["Exercise", "Check", "Result", "Report", "GradingFailed", "MissingName", "check",
           "exercises", "get", "DEFAULT_CHECK_TIMEOUT", "DEFAULT_BUDGET"]

DEFAULT_CHECK_TIMEOUT = 2.0   # seconds one check may take (its calls use timeouts <= 1 s)
DEFAULT_BUDGET = 4.5          # seconds a whole exercise may take: "well under 5 s"
_RESET_TIMEOUT = 1.0          # how long gs.reset() may wait for a learner's process thread
_WHY_MAX = 300                # characters of a failure's explanation

_ID = re.compile(r"^(\d\d)\.(\d+)$")
_NOTEBOOK = re.compile(r"^(\d\d)_[a-z0-9_]+$")
_REGISTRY: dict[str, "Exercise"] = {}
_log = logging.getLogger("genserver_lite")


class GradingFailed(AssertionError):
    """At least one check of an exercise failed; ``.report`` is the :class:`Report`.

    An AssertionError, so pytest and nbval read it as a failed test.
    """

    def __init__(self, report: "Report"):
        self.report = report
        failed = "; ".join(report.failed_titles())
        super().__init__(f"exercise {report.exercise_id}: {report.passed}/{report.total} checks "
                         f"passed; failed: {failed}")


class MissingName(LookupError):
    """A check asked the learner's namespace for a name the notebook has not defined."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"{name!r} is not defined: run the cell that defines it")


@dataclass(frozen=True)
class Check:
    """One check of an exercise: ``fn(namespace)`` raises if the learner's code is wrong."""

    title: str
    hint: str
    fn: object
    timeout: float = DEFAULT_CHECK_TIMEOUT


@dataclass(frozen=True)
class Result:
    """The outcome of one check: ``ok``, and on failure the hint and why it failed."""

    title: str
    ok: bool
    hint: str = ""
    why: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Report:
    """The results of one exercise's checks, in declaration order."""

    exercise_id: str
    title: str
    results: tuple = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> bool:
        return self.passed == self.total

    def failed_titles(self) -> list[str]:
        return [r.title for r in self.results if not r.ok]

    def text(self) -> str:
        """The deterministic report the check cell prints (no timings, no addresses)."""
        lines = [f"Exercise {self.exercise_id} · {self.title}"]
        for r in self.results:
            lines.append(f"{'✓' if r.ok else '✗'} {r.title}")
            if not r.ok:
                lines.append(f"    hint: {r.hint}")
                if r.why:
                    lines.append(f"    why: {r.why}")
        lines.append(f"{self.passed}/{self.total} checks passed")
        return "\n".join(lines)

    __str__ = text

    def __repr__(self) -> str:
        return f"<Report {self.exercise_id} · {self.title}: {self.passed}/{self.total} checks passed>"

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: :func:`check` has printed the report (``print(report)`` shows it again)."""

    def as_dict(self) -> dict:
        """A JSON-ready summary (the gradebook's channel format)."""
        return {"id": self.exercise_id, "title": self.title, "passed": self.passed,
                "total": self.total, "failed": self.failed_titles(),
                "seconds": round(self.seconds, 3)}


class Exercise:
    """An exercise of a course notebook and its checks (declared in ``grading/exercises/nbNN.py``).

    Args:
        id: ``"NN.k"``, where NN is the notebook's number.
        title: shown in the report's first line and in the notebook's heading.
        notebook: the notebook's file stem, ``"NN_slug"`` (the gradebook finds
            the exercises of a submitted notebook through it).
        stars: difficulty, 1 to 3 (★ to ★★★).
        minutes: the time estimate shown to the learner.
        names: the names the learner's cells must define; if one is missing
            every check fails at once with a message naming it.
        budget: seconds the whole exercise may take (under 5 s).
        register: add it to the registry (False for a throwaway exercise in a test).

    Raises:
        ValueError: a malformed argument, or an id already registered by a
            different exercise.
    """

    def __init__(self, id: str, title: str, *, notebook: str, stars: int, minutes: int,
                 names=(), budget: float = DEFAULT_BUDGET, register: bool = True):
        m = _ID.match(id) if isinstance(id, str) else None
        if m is None:
            raise ValueError(f"an exercise id is 'NN.k' (e.g. '03.1'), got {id!r}")
        if not isinstance(notebook, str) or not _NOTEBOOK.match(notebook):
            raise ValueError(f"exercise {id}: notebook= must be a file stem 'NN_slug', got {notebook!r}")
        if notebook[:2] != m.group(1):
            raise ValueError(f"exercise {id}: its number does not match notebook {notebook!r}")
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"exercise {id}: title must be a non-empty string, got {title!r}")
        if stars not in (1, 2, 3) or isinstance(stars, bool):
            raise ValueError(f"exercise {id}: stars must be 1, 2 or 3, got {stars!r}")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
            raise ValueError(f"exercise {id}: minutes must be a positive int, got {minutes!r}")
        if isinstance(names, str) or not all(isinstance(n, str) and n.isidentifier() for n in names):
            raise ValueError(f"exercise {id}: names must be a list of identifiers, got {names!r}")
        if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not 0 < budget < 5:
            raise ValueError(f"exercise {id}: budget must be between 0 and 5 seconds, got {budget!r}")
        self.id, self.title, self.notebook = id, title.strip(), notebook
        self.stars, self.minutes, self.names, self.budget = stars, minutes, list(names), float(budget)
        self._checks: list[Check] = []
        if register:
            old = _REGISTRY.get(id)
            if old is not None and (old.notebook, old.title) != (notebook, self.title):
                raise ValueError(f"exercise id {id} is already registered for {old.title!r} "
                                 f"({old.notebook}); pick another id")
            _REGISTRY[id] = self      # the same exercise declared again (a module reload) replaces it

    def __repr__(self) -> str:
        return f"<Exercise {self.id} · {self.title} ({self.difficulty}, ~{self.minutes} min)>"

    @property
    def difficulty(self) -> str:
        return "★" * self.stars

    @property
    def checks(self) -> tuple:
        return tuple(self._checks)

    def check(self, title: str, *, hint: str, timeout: float = DEFAULT_CHECK_TIMEOUT):
        """Decorator: register ``fn(namespace)`` as a check, shown as ``title`` with ``hint`` on failure."""
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"exercise {self.id}: a check title must be a non-empty string, got {title!r}")
        if any(c.title == title for c in self._checks):
            raise ValueError(f"exercise {self.id}: two checks are titled {title!r}")
        if not isinstance(hint, str) or not hint.strip():
            raise ValueError(f"exercise {self.id}: check {title!r} needs a hint (a non-empty string)")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= self.budget:
            raise ValueError(f"exercise {self.id}: check {title!r}: timeout must be in (0, "
                             f"{self.budget}] seconds, got {timeout!r}")

        def register(fn):
            if not callable(fn):
                raise TypeError(f"exercise {self.id}: check {title!r} must decorate a function, got {fn!r}")
            self._checks.append(Check(title, hint, fn, float(timeout)))
            return fn
        return register

    def run(self, namespace, *, checks=None) -> Report:
        """Run the checks (``checks`` defaults to this exercise's) against ``namespace``; never raises for a failure.

        Runs in the calling thread, which must not be a process; each check
        runs in a thread of its own, from a clean runtime. What the learner's
        code prints meanwhile is dropped, so the report is all the output.
        """
        if not isinstance(namespace, Mapping):
            raise TypeError(f"exercise {self.id}: the namespace must be a mapping such as globals(), "
                            f"got {type(namespace).__name__}")
        me = k._local.proc
        if me is not None and not me.shell and me.alive:
            raise RuntimeError(f"exercise {self.id}: checks cannot run inside a process ({me.pid!r}); "
                               "call grading.check from a notebook cell or a test")
        checks = self.checks if checks is None else tuple(checks)
        if not checks:
            raise ValueError(f"exercise {self.id} has no checks")
        ns = _Namespace(namespace)
        missing = [n for n in self.names if n not in namespace]
        start = time.monotonic()
        deadline = start + self.budget
        results = []
        quiet = _DropAll()
        _log.addFilter(quiet)      # checks crash servers on purpose: no crash reports on stderr
        streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = io.StringIO()    # the learner's prints would make the report vary
        try:
            for c in checks:
                left = deadline - time.monotonic()
                if missing:
                    results.append(Result(c.title, False, c.hint, _missing(missing)))
                elif left <= 0.05:
                    results.append(Result(c.title, False, c.hint,
                                          f"not run: the exercise's time budget ({self.budget:g} s) ran out"))
                elif left < c.timeout:
                    results.append(_run_one(c, ns, left, f"the exercise's time budget "
                                            f"({self.budget:g} s) ran out during this check"))
                else:
                    results.append(_run_one(c, ns, c.timeout))
        finally:
            sys.stdout, sys.stderr = streams
            _log.removeFilter(quiet)
        return Report(self.id, self.title, tuple(results), time.monotonic() - start)


def _missing(missing: list[str]) -> str:
    if len(missing) == 1:
        return f"{missing[0]} is not defined: run the cell that defines it"
    return f"{', '.join(missing)} are not defined: run the cells that define them"


class _DropAll(logging.Filter):
    def filter(self, record) -> bool:
        return False


class _Namespace(Mapping):
    """The learner's namespace, read-only, where a missing name raises :class:`MissingName`."""

    def __init__(self, data: Mapping):
        self._data = data

    def __getitem__(self, name):
        try:
            return self._data[name]
        except KeyError:
            raise MissingName(name) from None

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _reset() -> str | None:
    """``gs.reset()``, with a short wait; the problem as text if a process thread is stuck."""
    try:
        _names.reset(timeout=_RESET_TIMEOUT)
    except RuntimeError as e:
        return f"{e}"
    return None


def _run_one(c: Check, ns: Mapping, limit: float, late: str | None = None) -> Result:
    """Run one check in a thread of its own, from a clean runtime, for at most ``limit`` seconds.

    ``late`` explains a timeout when ``limit`` is what is left of the exercise's budget.
    """
    dirty = _reset()
    if dirty:
        return Result(c.title, False, c.hint, f"could not start from a clean runtime: {dirty}")
    box: dict = {}

    def body():
        try:
            c.fn(ns)
        except BaseException as e:  # noqa: BLE001 - every failure, even SystemExit, is a ✗
            box["error"] = e
        else:
            box["ok"] = True

    t = threading.Thread(target=body, name=f"grading-check {c.title[:40]}", daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(limit)
    seconds = time.monotonic() - t0
    timed_out = t.is_alive()
    stuck = _reset()               # also wakes the check's thread if it waits on its mailbox
    if timed_out:
        t.join(0.5)
        why = late or (f"took longer than {limit:g} s (a call that never gets a reply? a loop "
                       f"that never ends?)")
        if t.is_alive():
            why += "; the check is blocked outside the runtime (time.sleep? input()?)"
        return Result(c.title, False, c.hint, why, seconds)
    if "error" in box:
        return Result(c.title, False, c.hint, _explain(box["error"], c), seconds)
    if stuck:
        return Result(c.title, False, c.hint, f"after the check a process could not be stopped: {stuck}",
                      seconds)
    return Result(c.title, True, seconds=seconds)


def _causes(exc: BaseException):
    """``exc`` and what it carries: an exit's reason, its cause and context (cycle-safe)."""
    seen, todo = set(), [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, (Exit, StartError)):
            reasons = [e.reason]
            while reasons:          # an exit reason may wrap the cause in tuples: ("code_change_failed", e)
                r = reasons.pop()
                if type(r) is tuple:
                    reasons += list(r)
                else:
                    todo.append(r)
        todo += [e.__cause__, e.__context__]


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= _WHY_MAX else line[:_WHY_MAX - 1] + "…"


def _explain(exc: BaseException, c: Check) -> str:
    """Why a check failed, in one line a learner can act on."""
    for e in _causes(exc):
        if isinstance(e, NotImplementedError):
            return _first_line(f"not implemented yet: {e}" if str(e) else "not implemented yet")
    if isinstance(exc, MissingName):
        return str(exc)
    if isinstance(exc, AssertionError):
        if str(exc):
            return _first_line(str(exc))
        code = getattr(c.fn, "__code__", None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if code is not None and f.filename == code.co_filename]
        return _first_line(f"failed: {frames[-1].line}" if frames and frames[-1].line else "an assertion failed")
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r}) was called during the check"
    return _first_line(f"{type(exc).__name__}: {exc}")


# -- the registry and the check cell's entry point -------------------------------------


def _load() -> None:
    importlib.import_module("genserver_lite.grading.exercises")   # importing it fills the registry


def exercises(notebook: str | None = None) -> list[Exercise]:
    """Every registered exercise, by id (or only those of ``notebook``, a file stem ``NN_slug``).

    A ``notebook`` that has no exercises raises LookupError listing those that do.
    """
    _load()
    found = sorted(_REGISTRY.values(), key=lambda e: tuple(int(x) for x in e.id.split(".")))
    if notebook is None:
        return found
    mine = [e for e in found if e.notebook == notebook]
    if not mine:
        stems = ", ".join(sorted({e.notebook for e in found})) or "none"
        raise LookupError(f"no exercises for notebook {notebook!r} (notebooks with exercises: {stems})")
    return mine


def get(exercise_id: str) -> Exercise:
    """The registered exercise ``exercise_id``; a LookupError lists the known ids."""
    _load()
    try:
        return _REGISTRY[exercise_id]
    except (KeyError, TypeError):
        known = ", ".join(e.id for e in exercises()) or "none"
        raise LookupError(f"no exercise {exercise_id!r} (known: {known})") from None


def check(exercise_id: str, namespace) -> Report:
    """Run exercise ``exercise_id``'s checks against ``namespace``, print the report, raise on failure.

    The check cell's one line: ``gs.grading.check("03.1", globals())``. Call
    it from a notebook cell or a test, never from inside a process: each
    check starts and ends with ``gs.reset()``.

    Raises:
        GradingFailed: a check failed (the report is printed first).
        LookupError: no such exercise.
    """
    __tracebackhide__ = True     # IPython and pytest: show the report, not the grader's frames
    report = get(exercise_id).run(namespace)
    print(report.text(), flush=True)
    if not report.ok:
        raise GradingFailed(report)
    return report
