"""The kernel's records and the one path of death (OTP: the BEAM's process table and signal handling).

Everything here runs under one lock, ``_lock``, except the delivery of a
message, which is a ``SimpleQueue.put`` on the hot path. ``process.py`` is the
public face; ``names.py`` the name table and introspection. Nothing here
imports a behaviour.

How a death goes (:func:`kill_all`), atomically under the lock: the process is
marked dead and leaves the process table; its names go; its cleanup hooks run
(Registry keys); then its links get exit signals, in pid order, and its
monitors get DOWN; last, if it was killed by another thread while running
Python code, its thread is interrupted with an asynchronous :class:`Killed`
and woken if it was blocked on its mailbox.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import threading
from collections import deque
from queue import SimpleQueue

from .errors import Exit

log = logging.getLogger("genserver_lite")

_lock = threading.RLock()   # guards the tables below and every link/monitor/death change
_procs: dict[int, "Process"] = {}
_names: dict[str, "Process"] = {}
_pid_ids = itertools.count(1)
_ref_ids = itertools.count(1)
_reset_hooks: list = []     # called by reset() after every process is dead (timers, tracing, ...)
_thread_mark = [512]       # prune _threads when it has doubled since the last prune
_threads: set = set()       # process threads not yet joined: reset() joins those of processes already dead
_tracer = None              # trace.py installs a callable(event, pid, peer, data) here


class _Local(threading.local):
    proc = None


_local = _Local()
_WAKE = object()            # put in a mailbox to wake a blocked receive after a kill


class Killed(BaseException):
    """Raised asynchronously in a process thread whose process was killed.

    A BaseException, so ``except Exception`` in user code does not swallow it.
    """


class Pid:
    """A process identifier, printed like Erlang's ``<0.42.0>``. Compared by identity."""

    __slots__ = ("id", "_proc", "__weakref__")

    def __init__(self, id_: int, proc: "Process"):
        self.id = id_
        self._proc = proc

    def __repr__(self) -> str:
        return f"<0.{self.id}.0>"

    def __lt__(self, other: "Pid") -> bool:
        if not isinstance(other, Pid):
            return NotImplemented
        return self.id < other.id


class Ref:
    """A unique reference (OTP's ``make_ref()``), printed like ``#Ref<0.0.0.7>``.

    Compared by identity. The number shown is given the first time a ref is
    printed, so creating one (once per call) costs no more than an object.
    """

    __slots__ = ("_id", "__weakref__")

    @property
    def id(self) -> int:
        try:
            return self._id
        except AttributeError:
            self._id = next(_ref_ids)
            return self._id

    def __repr__(self) -> str:
        return f"#Ref<0.0.0.{self.id}>"


class Process:
    """The kernel's record of one process. Internal: users hold a :class:`Pid`."""

    __slots__ = (
        "pid", "q", "saved", "alive", "reason", "trap", "links", "monitors", "monitoring",
        "name", "thread", "ident", "interruptible", "shell", "cleanups", "aliases",
        "status", "label", "behaviour", "parent", "in_body", "starting", "__weakref__",
    )

    def __init__(self, label: str = "", shell: bool = False):
        self.pid = Pid(next(_pid_ids), self)
        self.q = SimpleQueue()        # the mailbox: any thread puts, the owner gets
        self.saved = deque()          # messages a selective receive skipped, oldest first
        self.alive = True
        self.reason = None
        self.trap = shell
        self.links: set[Process] = set()
        self.monitors: dict[Ref, Process] = {}     # ref -> watcher (who monitors me)
        self.monitoring: dict[Ref, object] = {}    # ref -> Process I monitor
        self.name = None
        self.thread = None
        self.ident = None
        self.interruptible = False
        self.shell = shell
        self.cleanups: list = []      # fn(proc) run at death before links and monitors fire
        self.aliases: dict = {}       # call refs whose replies are still wanted
        self.status = "runnable"
        self.label = label
        self.behaviour = None
        self.parent = None
        self.in_body = False          # True while the process's function runs (reset may re-interrupt it)
        self.starting = False         # True while it starts a thread: no kill may interrupt it then

    def __repr__(self) -> str:
        return f"<Process {self.pid!r} {self.label}>"


def current() -> Process:
    """The calling thread's process, creating a shell for a non-process thread."""
    p = _local.proc
    if p is None or (p.shell and not p.alive):
        p = Process("shell", shell=True)
        p.ident = threading.get_ident()
        p.status = "running"
        with _lock:
            _procs[p.pid.id] = p
        _local.proc = p
    return p


def check_alive(me: Process) -> None:
    """Raise in a process that was killed: it may do nothing more."""
    if not me.alive:
        if me.shell:
            _local.proc = None
            raise Exit(me.reason, f"this shell process was killed with reason {me.reason!r}")
        raise Killed()


_INF = float("inf")


def check_timeout(value, what: str = "timeout", allow_none: bool = True):
    """Validate a time in seconds: a non-negative number, or ``None`` for infinity."""
    t = type(value)
    if (t is float or t is int) and 0 <= value < _INF:      # the common case (NaN fails it)
        return value
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds{' or None' if allow_none else ''}, "
                        f"got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    if value != value or value == _INF:     # NaN, or an infinity no wait can take
        raise ValueError(f"{what} must be a finite number of seconds"
                         f"{' (None waits forever)' if allow_none else ''}, got {value!r}")
    return value


def resolve(dest) -> Process | None:
    """The Process a pid, registered name or via tuple names, or None (dead or unknown)."""
    t = type(dest)
    if t is Pid:
        return dest._proc
    if t is str:
        return _names.get(dest)
    if t is tuple and len(dest) == 3 and dest[0] == "via":
        pid = via_module(dest).whereis_name(dest[2])
        return pid._proc if pid is not None else None
    raise TypeError(f"a destination must be a Pid, a registered name (str) or a "
                    f"('via', module, name) tuple, got {dest!r}")


def via_module(dest):
    mod = dest[1]
    for fn in ("register_name", "unregister_name", "whereis_name", "send"):
        if not callable(getattr(mod, fn, None)):
            raise TypeError(f"via module {mod!r} in {dest!r} has no {fn}()")
    return mod


def deliver(sender: Pid, target: Process, msg, kind: str | None = None) -> None:
    """Put ``msg`` in ``target``'s mailbox if it is alive (the one path every message takes).

    The send is traced before the put, so a trace never shows a receive before its send.
    """
    if _tracer is not None:
        _tracer("send", sender, target.pid, (msg, kind))
    if target.alive:
        target.q.put(msg)


def _is(reason, word: str) -> bool:
    return type(reason) is str and reason == word


def signal(target: Process, from_pid: Pid, reason, via_link: bool, work: deque) -> None:
    """Deliver an exit signal (under _lock); deaths it causes go on ``work``."""
    if not target.alive:
        return
    if _tracer is not None:
        _tracer("signal", from_pid, target.pid, reason)
    if not via_link and _is(reason, "kill"):
        work.append((target, "killed"))
    elif target.trap:
        deliver(from_pid, target, ("EXIT", from_pid, reason), "exit")
    elif _is(reason, "normal"):
        if not via_link and target.pid is from_pid:
            work.append((target, "normal"))
    else:
        work.append((target, reason))


def kill_all(work: deque) -> None:
    """Kill each (process, reason) on ``work`` and everything their deaths take down (under _lock)."""
    me_ident = threading.get_ident()
    while work:
        proc, reason = work.popleft()
        if not proc.alive:
            continue
        proc.alive = False
        proc.reason = reason
        _procs.pop(proc.pid.id, None)
        if proc.name is not None:
            _names.pop(proc.name, None)
        for fn in proc.cleanups:
            try:
                fn(proc)
            except Exception:  # noqa: BLE001 - a broken hook must not stop the death
                log.exception("cleanup hook %r of %r failed", fn, proc.pid)
        proc.cleanups = []
        if _tracer is not None:
            _tracer("exit", proc.pid, None, reason)
        links, proc.links = proc.links, set()
        for other in sorted(links, key=lambda p: p.pid.id):
            other.links.discard(proc)
            signal(other, proc.pid, reason, True, work)
        mons = proc.monitors
        for ref in list(mons):          # each entry is claimed by one pop: see add_call_monitor
            watcher = mons.pop(ref, None)
            if watcher is not None:
                watcher.monitoring.pop(ref, None)
                deliver(proc.pid, watcher, ("DOWN", ref, "process", proc.pid, reason), "down")
        for ref, target in list(proc.monitoring.items()):
            target.monitors.pop(ref, None)
        proc.monitoring.clear()
        if proc.interruptible and proc.ident != me_ident:
            proc.interruptible = False
            interrupt(proc)
        else:
            proc.q.put(_WAKE)


def interrupt(proc: Process) -> None:
    """Raise :class:`Killed` in ``proc``'s thread at its next bytecode, and wake it if it waits on its mailbox."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(proc.ident), ctypes.py_object(Killed))
    proc.q.put(_WAKE)


def start_thread(thread: threading.Thread) -> None:
    """Start ``thread`` from the calling thread; a kill of the calling process waits until it has started.

    CPython 3.11 creates a new thread's state in the starting thread, with the
    *starter's* thread id until the new thread first runs. An asynchronous kill
    aimed at the starter in that window (``PyThreadState_SetAsyncExc`` finds
    threads by id) is raised in the new thread too, before it signals that it
    started, and ``Thread.start()`` then waits for that signal forever. So the
    starter is not interruptible while it starts a thread: a kill meanwhile
    only marks it dead, and it raises :class:`Killed` itself once the thread
    has started.
    """
    me = _local.proc
    if me is None or me.shell:
        thread.start()
        return
    with _lock:
        was, me.interruptible = me.interruptible, False
        me.starting = True
    try:
        thread.start()
    finally:
        with _lock:
            me.starting = False
            if me.alive:
                me.interruptible = was
    if not me.alive:
        raise Killed()


def add_call_monitor(me: Process, target: Process) -> Ref | None:
    """Monitor ``target`` for one call, without the kernel lock (the call path's fast monitor).

    The entry is claimed exactly once, by an atomic ``dict.pop``: either the
    target's death claims it and sends DOWN, or the caller claims it back in
    :func:`remove_call_monitor`. Returns None if the target is already dead.
    Call monitors are not traced: a sequence diagram shows the call itself.
    """
    ref = Ref()
    target.monitors[ref] = me
    me.monitoring[ref] = target
    if not target.alive and target.monitors.pop(ref, None) is not None:
        me.monitoring.pop(ref, None)
        return None
    return ref


def remove_call_monitor(me: Process, target: Process, ref: Ref) -> bool:
    """Undo :func:`add_call_monitor`; False if the target's death claimed it (its DOWN is then queued)."""
    me.monitoring.pop(ref, None)
    if target.monitors.pop(ref, None) is not None:
        return True
    with _lock:     # the death that claimed it holds the lock until the DOWN is delivered
        return False


def die(proc: Process, reason) -> None:
    """The calling process ends with ``reason``."""
    with _lock:
        proc.interruptible = False
        kill_all(deque([(proc, reason)]))
