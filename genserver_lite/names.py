"""Registered names, introspection and reset (OTP ``register/2``, ``whereis/1``, ``process_info/1``).

A name is a plain string in one global table; a process has at most one.
Names of a dead process vanish in the same step as its death, before its
links and monitors fire, so a supervisor can restart a child under the same
name at once. Via names (``("via", module, key)``) are resolved by their
module, as OTP's ``{via, Mod, Name}``; :func:`whereis` accepts both.

:func:`reset` is the course's clean slate: every process killed, every timer
cancelled, every name forgotten, and no library thread left running.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from . import _kernel as k
from . import _threads
from ._kernel import Pid, resolve

__all__ = ["register", "unregister", "whereis", "info", "processes", "reset"]


def _check_name(name) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a registered name must be a non-empty string, got {name!r}")


def register(name: str, pid: Pid) -> None:
    """Register ``pid`` under ``name`` (OTP ``register/2``).

    Raises ValueError if the name is invalid or taken, the pid is dead, or the
    process already has a name (a process has at most one, as in OTP).
    """
    _check_name(name)
    if type(pid) is not Pid:
        raise TypeError(f"register needs a Pid, got {pid!r}")
    proc = pid._proc
    with k._lock:
        holder = k._names.get(name)
        if holder is not None:
            raise ValueError(f"name {name!r} is already registered to {holder.pid!r}")
        if not proc.alive:
            raise ValueError(f"cannot register {name!r}: {pid!r} is not alive")
        if proc.name is not None:
            raise ValueError(f"{pid!r} is already registered as {proc.name!r}")
        k._names[name] = proc
        proc.name = name
        if k._tracer is not None:
            k._tracer("register", pid, None, name)


def unregister(name: str) -> None:
    """Remove a registered name (OTP ``unregister/1``); an unknown name raises ValueError."""
    _check_name(name)
    with k._lock:
        proc = k._names.pop(name, None)
        if proc is None:
            raise ValueError(f"name {name!r} is not registered")
        proc.name = None


def whereis(name) -> Pid | None:
    """The pid registered under ``name`` (a string or a via tuple), or None (OTP ``whereis/1``)."""
    if isinstance(name, str):
        p = k._names.get(name)
        return p.pid if p is not None else None
    p = resolve(name)
    return p.pid if p is not None and p.alive else None


def info(pid: Pid) -> dict | None:
    """A snapshot of a live process (OTP ``process_info/1``), or None if it is dead.

    Keys: pid, name, status ("running", "waiting", "suspended", ...),
    message_queue_len, links, monitors (the pids this one monitors),
    monitored_by, trap_exit, behaviour ("GenServer", "Supervisor", ... or
    None), module (the class or function it runs), parent.
    """
    if type(pid) is not Pid:
        raise TypeError(f"info needs a Pid, got {pid!r}")
    p = pid._proc
    with k._lock:
        if not p.alive:
            return None
        return {
            "pid": p.pid, "name": p.name, "status": _status(p),
            "message_queue_len": len(p.saved) + p.q.qsize(),
            "links": sorted(o.pid for o in p.links),
            "monitors": sorted({t.pid for t in p.monitoring.values()}),
            "monitored_by": sorted({w.pid for w in p.monitors.values()}),
            "trap_exit": p.trap, "behaviour": p.behaviour, "module": p.label,
            "parent": p.parent,
        }


def _status(p: k.Process) -> str:
    """OTP's status words: waiting (nothing to do), runnable (messages queued), running, suspended."""
    if p.status == "suspended":
        return "suspended"
    if p.ident == threading.get_ident():
        return "running"
    if p.saved or not p.q.empty():
        return "runnable"
    return "waiting" if p.status == "waiting" else "running"     # busy in a callback, mailbox empty


def processes() -> list[Pid]:
    """Every live process, oldest first (OTP ``processes/0``), shells included."""
    with k._lock:
        return sorted(p.pid for p in k._procs.values())


def reset(timeout: float = 5.0) -> None:
    """Kill every process, cancel every timer, forget every name: a clean slate.

    No thread of the library outlives it: process threads are joined, and the
    reset hooks stop the timer thread, tracing and live widgets. Idempotent.
    Call it from a notebook cell or a test, never from inside a process. No
    ``terminate`` callback runs (every process is killed, as ``"kill"``
    would). A process stuck in a C call makes it raise RuntimeError naming
    the process, once ``timeout`` seconds pass in which no process thread
    ends (so killing tens of thousands of processes, which takes seconds,
    is not mistaken for being stuck).
    """
    me = k._local.proc
    if me is not None and not me.shell and me.alive:
        raise RuntimeError("gs.reset() cannot be called from inside a process")
    k.check_timeout(timeout, allow_none=False)
    deadline = time.monotonic() + timeout
    threads = []
    _threads.draining(True)      # a worker whose process ends now stops instead of parking
    try:
        _kill_and_join(threads, deadline, timeout)
    finally:
        _threads.draining(False)
    with k._lock:
        k._names.clear()
    k._local.proc = None
    for hook in list(k._reset_hooks):
        hook()
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        raise RuntimeError(f"gs.reset(): these process threads are stuck in a blocking call "
                           f"(use gs.sleep, not time.sleep, in a process): {stuck}")


def _kill_and_join(threads: list, deadline: float, timeout: float) -> None:
    while True:
        with k._lock:
            victims = list(k._procs.values())
            if not victims:
                break
            k.kill_all(deque((p, "killed") for p in victims))
        threads += [p.thread for p in victims if p.thread is not None]
        if time.monotonic() > deadline:
            break
    _threads.stop_all()          # parked workers stop now, busy ones once their process has ended
    with k._lock:   # every worker and process thread not yet joined
        known = set(threads)
        threads += [t for t in k._threads if t not in known]
    _join(threads, timeout)
    with k._lock:
        k._threads.difference_update([t for t in threads if t.ident and not t.is_alive()])


def _join(threads, timeout: float) -> None:
    """Join process threads, re-interrupting any dead process still running its function.

    Gives up once ``timeout`` seconds pass in which no thread ends.

    A kill is an asynchronous exception; Python may swallow one that lands in
    a garbage-collector callback or a ``__del__``. So while a dead process's
    thread is still inside its function, the kill is delivered again.
    """
    pending = [t for t in threads if t.ident is not None]
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for t in pending:
            t.join(min(0.05, max(0.0, deadline - time.monotonic())))
        left = [t for t in pending if t.is_alive()]
        if len(left) < len(pending):        # progress: the clock starts again
            deadline = time.monotonic() + timeout
        pending = left
        with k._lock:       # the flags a worker clears under this lock before it parks (_threads)
            for t in pending:
                proc = getattr(t, "_gs_proc", None)
                if proc is not None and not proc.alive and proc.in_body and not proc.starting:
                    k.interrupt(proc)   # (never while it starts a thread: see _kernel.start_thread)


def _at_shutdown() -> None:
    try:
        reset()
    except RuntimeError as e:   # the interpreter is exiting: report, do not hang
        k.log.warning("%s", e)


# Runs when the interpreter starts to exit, before it joins or abandons any thread,
# so a notebook kernel or a script that leaves processes running stops them first
# (process threads are daemon threads: see _threads) and shuts down cleanly.
threading._register_atexit(_at_shutdown)
