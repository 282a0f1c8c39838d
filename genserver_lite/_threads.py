"""The threads that run processes: one per live process, reused once its process ends.

Every process runs on a thread. Starting an OS thread is the largest part of
starting a process (and so of a supervisor's restart), so a thread whose
process has ended *parks* (at most :data:`MAX_IDLE` of them) and the next
spawn hands it the new process instead of starting a thread. Nothing of a
process survives into the next one on the same thread except Python
thread-local storage a user's code might keep (keep state in the process's
state, as OTP does).

Reuse is safe against kills: a kill is an asynchronous exception aimed at a
thread, and a late one must never reach the next process. A kill is only
ever aimed at a thread (under the kernel lock) while its process is
``interruptible`` or, for a re-delivery, ``in_body``; when a process ends,
its worker turns both flags off and clears any exception still pending for
its thread, under that same lock, before it parks.

``gs.reset()`` drains the pool: idle workers stop at once, busy ones when
their process has ended; no thread outlives the reset.

Worker threads are *daemon* threads. CPython (3.11, 3.12) scans the lock of
every live non-daemon thread each time one starts
(``threading._maintain_shutdown_locks``), which makes starting the 10,000th
process cost a scan of 10,000 locks. Daemon threads skip that. The
interpreter still stops every process before it exits: ``gs.reset`` is
registered with ``threading._register_atexit`` (see ``names``), which runs
before the interpreter joins or abandons any thread. An Erlang node, too,
does not wait for its processes when it halts.
"""

from __future__ import annotations

import ctypes
import threading
import time
from queue import SimpleQueue

from . import _kernel as k

__all__ = ["start", "stop_all", "parked", "released", "wait_released", "MAX_IDLE"]

MAX_IDLE = 32
_idle: list = []          # parked workers, newest last (under k._lock)
_all: set = set()         # every worker thread's box, for reset (under k._lock)
_state = {"draining": False}


class _Worker:
    __slots__ = ("box", "thread")

    def __init__(self):
        self.box = SimpleQueue()
        self.thread = None


def start(proc: k.Process, fn, args, name: str) -> None:
    """Run ``proc`` (its body ``fn(*args)``) on a parked worker, or on a new thread.

    The caller has registered ``proc``; on a new thread this waits until the
    thread runs (see :func:`_kernel.start_thread`).
    """
    with k._lock:
        worker = _idle.pop() if _idle else None
    if worker is not None:
        worker.thread.name = name
        worker.thread._gs_proc = proc
        proc.thread = worker.thread
        worker.box.put((proc, fn, args))
        return
    worker = _Worker()
    worker.box.put((proc, fn, args))
    thread = threading.Thread(target=_work, args=(worker,), name=name, daemon=True)
    worker.thread = thread
    thread._gs_proc = proc
    proc.thread = thread
    with k._lock:
        _all.add(worker.box)
        if len(k._threads) >= 2 * k._thread_mark[0]:     # forget finished threads now and then
            k._threads.difference_update([t for t in k._threads if t.ident and not t.is_alive()])
            k._thread_mark[0] = max(512, len(k._threads))
        k._threads.add(thread)
    k.start_thread(thread)


def _work(worker: _Worker) -> None:
    """A worker thread: run the processes handed to it, one after another."""
    from .process import bootstrap
    ident = threading.get_ident()
    box = worker.box
    proc = None
    try:
        while True:
            try:                # a late kill of `proc`, wherever it lands, comes back here to retire it
                if proc is not None:
                    if not _retire(worker, proc, ident):
                        return
                    proc = None
                job = box.get()
                if job is None:
                    return
                proc, fn, args = job
                bootstrap(proc, fn, args)
            except k.Killed:
                continue
    finally:
        with k._lock:
            _all.discard(box)


def _retire(worker: _Worker, proc: k.Process, ident: int) -> bool:
    """Make sure nothing aimed at ``proc`` reaches this thread again; True if the worker parks."""
    while True:
        try:
            with k._lock:
                proc.in_body = False
                proc.interruptible = False
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
                park = not _state["draining"] and len(_idle) < MAX_IDLE
                if park and worker not in _idle:
                    worker.thread.name = "gs idle"
                    worker.thread._gs_proc = None
                    _idle.append(worker)
            return park
        except k.Killed:        # raised before the clear: the clear is done again, and holds
            continue


def parked() -> set:
    """The threads parked now, waiting for a process to run (they stop at ``gs.reset()``)."""
    with k._lock:
        return {w.thread for w in _idle}


def released(thread: threading.Thread) -> bool:
    """Whether ``thread`` no longer runs a process: it ended, or it is parked for the next one."""
    return not thread.is_alive() or thread in parked()


def wait_released(thread: threading.Thread, timeout: float) -> bool:
    """Wait until :func:`released` (what joining a process's thread meant before threads were reused)."""
    deadline = time.monotonic() + timeout
    while not released(thread):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        thread.join(min(0.005, left))
    return True


def stop_all() -> None:
    """Stop every worker (reset): parked ones at once, busy ones when their process ends."""
    with k._lock:
        boxes = list(_all)
        _idle.clear()
    for box in boxes:
        box.put(None)


def draining(on: bool) -> None:
    """While reset runs, a worker whose process ends stops instead of parking."""
    with k._lock:
        _state["draining"] = on
