"""Task: run one function in its own process and collect its result (Elixir ``Task``).

``Task.async_(fn, *args)`` starts a process that is *linked* to the caller
(its owner) and *monitored* by it; when ``fn`` returns, the owner receives
``(task.ref, result)``. ``task.ref`` is also the monitor's reference, so a
crash arrives as ``("DOWN", task.ref, "process", pid, reason)``.

The link matters, and it is the pitfall the course shows in the source's
``TimeoutServer``: a task that crashes takes its owner down with it (unless
the owner traps exits), so a ``handle_info`` clause for the task's DOWN never
runs. To survive a crashing task, start it with
``gs.TaskSupervisor.async_nolink``.

As Elixir's ``Task``, the reply goes to an *alias*: after ``await_`` times
out, or the task is shut down, a late result is dropped rather than left in
the owner's mailbox.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import _kernel as k
from . import gen
from ._kernel import Pid, Ref, check_alive, check_timeout, current
from .errors import CallTimeout, Exit, NoProc, ReceiveTimeout
from .process import demonitor_process, drop, monitor_process, receive, spawn_process, unlink
from .process import exit as exit_signal

__all__ = ["Task"]


@dataclass(frozen=True)
class Task:
    """A running task: ``pid``, ``ref`` (the reply tag and the owner's monitor) and ``owner``."""

    pid: Pid
    ref: Ref
    owner: Pid

    # -- starting ----------------------------------------------------------------

    @staticmethod
    def async_(fn, *args) -> "Task":
        """Run ``fn(*args)`` in a new process linked to and monitored by the caller (Elixir ``Task.async/1``)."""
        return spawn_task(fn, args, link=True)

    @staticmethod
    def start(fn, *args) -> Pid:
        """Run ``fn(*args)`` in a process nobody waits for, unlinked (Elixir ``Task.start/1``)."""
        _check_fn(fn)
        return spawn_process(_run_fire_and_forget, (fn, args), label=_label(fn), behaviour="Task")

    @staticmethod
    def start_link(fn, *args) -> Pid:
        """Like :meth:`start`, linked to the caller (Elixir ``Task.start_link/1``)."""
        _check_fn(fn)
        return spawn_process(_run_fire_and_forget, (fn, args), link=True, label=_label(fn),
                             behaviour="Task")

    # -- collecting ----------------------------------------------------------------

    @staticmethod
    def await_(task: "Task", timeout: float | None = 5.0):
        """Wait for the task's result (Elixir ``Task.await/2``).

        Raises:
            Exit: the task died (its reason); NoProc if it was already gone.
            CallTimeout: no result in time. Elixir would exit the caller here;
                this raises instead, and removes the monitor and the reply alias
                so nothing from the task is left in the mailbox. The task runs on.
                A KeyboardInterrupt (Ctrl-C) during the wait does the same.
            RuntimeError: the caller is not the task's owner.
        """
        me = _owner_check(task, "await_")
        check_timeout(timeout)
        try:
            m = _wait(me, task, timeout)
        except BaseException:
            if me.alive:        # Ctrl-C in the notebook: give the task up, as a timeout does
                _forget(me, task)
            raise
        if m is None:
            _forget(me, task)
            raise CallTimeout(task.pid, timeout, f"task {task.pid!r} did not finish within {timeout} s")
        return _result(me, task, m)

    @staticmethod
    def yield_(task: "Task", timeout: float | None = 5.0):
        """Wait up to ``timeout`` for the result (Elixir ``Task.yield/2``).

        Returns ``("ok", value)``, ``("exit", reason)`` if the task died, or
        None on timeout (the task runs on, and can be yielded again).
        """
        me = _owner_check(task, "yield_")
        check_timeout(timeout)
        m = _wait(me, task, timeout)
        if m is None:
            return None
        try:
            return ("ok", _result(me, task, m))
        except Exit as e:
            return ("exit", e.reason)

    @staticmethod
    def await_many(tasks, timeout: float | None = 5.0) -> list:
        """Await several tasks, results in the given order, within one overall timeout (Elixir ``Task.await_many/2``)."""
        tasks = list(tasks)
        for t in tasks:
            _owner_check(t, "await_many")
        check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        results = []
        for t in tasks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                results.append(Task.await_(t, left))
            except CallTimeout:
                for rest in tasks[len(results) + 1:]:
                    _forget(current(), rest)
                raise CallTimeout(t.pid, timeout, f"await_many: {len(tasks) - len(results)} of "
                                                  f"{len(tasks)} tasks unfinished after {timeout} s") from None
        return results

    @staticmethod
    def shutdown(task: "Task", timeout: float | str = 5.0):
        """Stop a task (Elixir ``Task.shutdown/2``): unlink, send ``"shutdown"``, kill after ``timeout``.

        ``timeout`` may be ``"brutal_kill"`` (kill at once). Returns
        ``("ok", value)`` if the result arrived first; None if the task died
        of this shutdown (``"shutdown"``, or ``"killed"`` by ``"brutal_kill"``);
        otherwise ``("exit", reason)``: ``"killed"`` when it outlived
        ``timeout``, its own reason if it had died of something else, and
        ``"noproc"`` if it was already collected (awaited or yielded). As
        Elixir, it watches the task through a monitor of its own, so it never
        waits for a task that is already gone.
        """
        me = _owner_check(task, "shutdown")
        brutal = timeout == "brutal_kill"
        if not brutal:
            check_timeout(timeout, "timeout (or 'brutal_kill')")
        ours = "killed" if brutal else "shutdown"       # the reason this shutdown itself gives
        mon = monitor_process(me, task.pid._proc)
        unlink(task.pid)
        exit_signal(task.pid, "kill" if brutal else "shutdown")
        try:
            m = receive(lambda m: _is_down(m, mon), None if brutal else timeout)
        except ReceiveTimeout:
            exit_signal(task.pid, "kill")
            m = receive(lambda m: _is_down(m, mon))
        reason = m[4]
        own = _take(me, lambda d: _is_down(d, task.ref))   # the task's own DOWN, if still queued
        if own is not None:
            reason = own[4] if k._is(reason, "noproc") else reason
        else:
            demonitor_process(me, task.ref)
        me.aliases.pop(task.ref, None)
        reply = _take(me, lambda d: type(d) is tuple and len(d) == 2 and d[0] is task.ref)
        if reply is not None:
            return ("ok", reply[1])
        if k._is(reason, ours):
            return None
        return ("exit", reason)


def _is_down(m, ref) -> bool:
    return type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is ref


def _take(me: k.Process, pred):
    """The first queued message ``pred`` accepts, removed, or None (without waiting)."""
    try:
        return receive(pred, 0)
    except ReceiveTimeout:
        return None


def spawn_task(fn, args, *, link: bool) -> Task:
    """Start a task owned and monitored by the caller (shared with TaskSupervisor)."""
    _check_fn(fn)
    me = current()
    check_alive(me)
    ref = Ref()
    me.aliases[ref] = True
    try:
        pid = spawn_process(_run, (me.pid, ref, fn, args), link=link, monitor_ref=ref,
                            label=_label(fn), behaviour="Task")
    except BaseException:
        me.aliases.pop(ref, None)
        raise
    return Task(pid, ref, me.pid)


def _check_fn(fn) -> None:
    if not callable(fn):
        raise TypeError(f"a task needs a callable, got {fn!r}")


def _label(fn) -> str:
    return f"Task:{getattr(fn, '__qualname__', type(fn).__name__)}"


def _run(owner: Pid, ref: Ref, fn, args) -> None:
    try:
        result = _call(fn, args, owner)
    except BaseException:
        # as OTP's alias tied to the monitor: a task that dies takes its reply alias
        # with it, so an owner that handles the DOWN itself keeps no dead aliases
        owner._proc.aliases.pop(ref, None)
        raise
    gen.send_reply(current().pid, (owner, ref), result)


def _run_fire_and_forget(fn, args) -> None:
    _call(fn, args, current().parent)       # a crash report names who started it


def _call(fn, args, owner):
    try:
        return fn(*args)
    except (k.Killed, Exit):
        raise
    except BaseException as e:  # noqa: BLE001 - logged as Elixir's task crash report, then the exit reason
        k.log.error("Task %r started from %r terminating\n** Function: %r\n** Args: %r\n** Reason: %r",
                    current().pid, owner, fn, args, e, exc_info=(type(e), e, e.__traceback__))
        raise


def _owner_check(task, fn: str) -> k.Process:
    if not isinstance(task, Task):
        raise TypeError(f"Task.{fn} needs a Task from Task.async_, got {task!r}")
    me = current()
    if task.owner is not me.pid:
        raise RuntimeError(f"Task.{fn}: {me.pid!r} is not the owner of task {task.pid!r}; only "
                           f"its owner {task.owner!r} receives its result")
    return me


def _wait(me: k.Process, task: Task, timeout):
    ref = task.ref

    def is_for_task(m):
        return type(m) is tuple and ((len(m) == 2 and m[0] is ref)
                                     or (len(m) == 5 and m[0] == "DOWN" and m[1] is ref))
    try:
        return receive(is_for_task, timeout)
    except ReceiveTimeout:
        return None


def _result(me: k.Process, task: Task, m):
    ref = task.ref
    if len(m) == 2:
        if not demonitor_process(me, ref):
            drop(me, lambda d: type(d) is tuple and len(d) == 5 and d[0] == "DOWN" and d[1] is ref)
        return m[1]
    me.aliases.pop(ref, None)
    reason = m[4]
    if k._is(reason, "noproc"):
        raise NoProc(task.pid, f"task {task.pid!r} was not alive")
    raise Exit(reason, f"task {task.pid!r} exited with reason {reason!r}")


def _forget(me: k.Process, task: Task) -> None:
    """Stop waiting for a task: drop its alias, its monitor and anything already delivered."""
    ref = task.ref
    me.aliases.pop(ref, None)
    demonitor_process(me, ref)
    drop(me, lambda d: type(d) is tuple and ((len(d) == 2 and d[0] is ref)
                                             or (len(d) == 5 and d[0] == "DOWN" and d[1] is ref)))
