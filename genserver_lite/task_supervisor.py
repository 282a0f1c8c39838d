"""TaskSupervisor: tasks run under a supervisor, so a crash reaches only whoever is watching (Elixir ``Task.Supervisor``).

``gs.Task.async_`` links the task to its caller: when the task crashes, the
caller crashes too. That is right for a script that cannot go on without the
result, and wrong for a GenServer that only wanted to try something: the
``handle_info`` clause written for the task's DOWN never runs, because the
server is already dead. ``TaskSupervisor.async_nolink`` starts the task as a
child of a supervisor instead. The caller still *owns* the task (it gets the
result as ``(task.ref, result)``, or ``("DOWN", task.ref, "process", pid,
reason)`` if it crashed, and ``gs.Task.await_``, ``yield_`` and ``shutdown``
work on it) but nothing links them, so a crash is just a message::

    class Fetcher(gs.GenServer):
        def handle_call(self, url, from_, state):
            task = gs.TaskSupervisor.async_nolink("tasks", fetch, url)
            return ("reply", "started", {**state, task.ref: url})

        def handle_info(self, msg, state):
            match msg:
                case ("DOWN", ref, "process", _pid, reason):   # the fetch crashed
                    ...

Like Elixir's, a TaskSupervisor *is* a DynamicSupervisor (module-based,
labelled ``TaskSupervisor``) whose children are tasks, temporary by
default: ``which_children``, ``count_children`` and ``terminate_child`` are
DynamicSupervisor's, and ``children`` lists the task pids. When it shuts
down, its running tasks get ``"shutdown"`` and, after their ``shutdown``
seconds, ``"kill"``.
"""

from __future__ import annotations

from . import _kernel as k
from . import task as _task
from ._kernel import Pid, Ref, check_alive, current, deliver
from .dynamic_supervisor import DynamicSupervisor
from .process import spawn_process
from .specs import child_options
from .task import Task

__all__ = ["TaskSupervisor"]

_OPTIONS = ("name", "max_children", "max_restarts", "max_seconds")


class TaskSupervisor(DynamicSupervisor):
    """Start tasks under a supervisor (Elixir ``Task.Supervisor``); see the module docstring."""

    # -- starting the supervisor (the caller's process) ------------------------------

    @classmethod
    def start_link(cls, *, name=None, max_children: int | None = None, max_restarts: int = 3,
                   max_seconds: float = 5.0, timeout: float | None = None) -> Pid:
        """Start a task supervisor linked to the caller (Elixir ``Task.Supervisor.start_link/1``).

        ``max_children`` caps the tasks running at once; ``max_restarts`` and
        ``max_seconds`` matter only for tasks started with a ``restart`` other
        than temporary. Bad options raise ValueError naming the option.
        """
        flags = DynamicSupervisor.flags(max_children=max_children, max_restarts=max_restarts,
                                        max_seconds=max_seconds)
        return super()._start(flags, name, timeout, True)

    @classmethod
    def start(cls, *, name=None, max_children: int | None = None, max_restarts: int = 3,
              max_seconds: float = 5.0, timeout: float | None = None) -> Pid:
        """Like :meth:`start_link`, unlinked."""
        flags = DynamicSupervisor.flags(max_children=max_children, max_restarts=max_restarts,
                                        max_seconds=max_seconds)
        return super()._start(flags, name, timeout, False)

    @classmethod
    def child_spec(cls, arg=None) -> dict:
        """A TaskSupervisor as the child of another supervisor: ``gs.TaskSupervisor`` or
        ``(gs.TaskSupervisor, {"name": "tasks", "max_children": 10})``.

        As Elixir, the child's id is its name (the class when it has none).
        """
        opts = child_options("TaskSupervisor", arg, _OPTIONS, "{'name': 'tasks'}")
        return {"id": opts.get("name") or cls, "start": (cls._start_with, (opts,)),
                "restart": cls.restart, "shutdown": cls.shutdown, "type": "supervisor",
                "modules": ["TaskSupervisor"]}

    @classmethod
    def _start_with(cls, opts: dict) -> Pid:
        return cls.start_link(**opts)

    def init(self, flags):
        """Runs in the new supervisor: the flags were checked by the caller."""
        return flags

    # -- starting tasks (the caller's process asks; the supervisor spawns) ----------------

    @staticmethod
    def async_nolink(sup, fn, *args, shutdown: float | str = 5.0) -> Task:
        """Run ``fn(*args)`` as a task under ``sup``, owned and monitored by the caller, not linked
        (Elixir ``Task.Supervisor.async_nolink/3``).

        The caller receives ``(task.ref, result)``, or ``("DOWN", task.ref,
        "process", pid, reason)`` if the task crashed; ``gs.Task.await_``,
        ``yield_`` and ``shutdown`` work as for ``Task.async_``. The task is
        temporary: never restarted. ``shutdown`` is how long the supervisor
        waits for it when shutting down (seconds or ``"brutal_kill"``).

        Raises:
            StartError: ``"max_children"`` reached.
            NoProc: no supervisor ``sup``.
        """
        _task._check_fn(fn)
        me = current()
        check_alive(me)
        ref = Ref()
        me.aliases[ref] = True      # the reply may come before start_child returns
        try:
            pid = DynamicSupervisor.start_child(
                sup, _spec(fn, _spawn_async, (me.pid, ref, fn, args), "temporary", shutdown))
        except BaseException:
            me.aliases.pop(ref, None)
            raise
        _monitor_as(me, pid._proc, ref)
        return Task(pid, ref, me.pid)

    @staticmethod
    def start_child(sup, fn, *args, restart: str = "temporary", shutdown: float | str = 5.0) -> Pid:
        """Run ``fn(*args)`` as a task under ``sup`` that nobody awaits (Elixir ``Task.Supervisor.start_child/3``).

        ``restart="permanent"`` or ``"transient"`` makes the supervisor run
        ``fn(*args)`` again in a new task when it exits (abnormally, for
        transient), within the supervisor's restart intensity.
        """
        _task._check_fn(fn)
        return DynamicSupervisor.start_child(sup, _spec(fn, _spawn_fire, (fn, args), restart, shutdown))

    # -- introspection -------------------------------------------------------------------

    @staticmethod
    def children(sup) -> list:
        """The pids of the tasks running now (Elixir ``Task.Supervisor.children/1``)."""
        return [row[1] for row in DynamicSupervisor.which_children(sup) if type(row[1]) is Pid]


def _spec(fn, start, args, restart, shutdown) -> dict:
    if shutdown == "infinity":
        raise ValueError("a task's shutdown must be seconds or 'brutal_kill', not 'infinity' "
                         "(Elixir refuses it too: a supervisor must not wait forever for a task)")
    label = _task._label(fn)
    return {"id": label, "start": (start, args), "restart": restart, "shutdown": shutdown,
            "type": "worker", "modules": [label]}


def _spawn_async(owner: Pid, ref: Ref, fn, args) -> Pid:
    """Runs in the supervisor: the task process, linked to it, replying to ``owner`` under ``ref``."""
    return spawn_process(_task._run, (owner, ref, fn, args), link=True, label=_task._label(fn),
                         behaviour="Task")


def _spawn_fire(fn, args) -> Pid:
    """Runs in the supervisor: a task process linked to it that sends no result."""
    return spawn_process(_task._run_fire_and_forget, (fn, args), link=True,
                         label=_task._label(fn), behaviour="Task")


def _monitor_as(owner: k.Process, target: k.Process, ref: Ref) -> None:
    """``owner`` monitors ``target`` under ``ref`` (the task's ref, chosen before it started).

    The task may already have finished by now; then the DOWN carries its real
    exit reason, not ``"noproc"``, exactly as if the monitor had been set up
    when the supervisor spawned it.
    """
    with k._lock:
        if not owner.alive:
            return
        if target.alive:
            target.monitors[ref] = owner
            owner.monitoring[ref] = target
            if k._tracer is not None:
                k._tracer("monitor", owner.pid, target.pid, ref)
            return
        reason = target.reason
    deliver(target.pid, owner, ("DOWN", ref, "process", target.pid, reason), "down")
