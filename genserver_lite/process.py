"""Processes: spawn, messages, links, monitors and exits (OTP: ``erlang`` BIFs, Elixir's ``Process``).

A process is a thread with a mailbox. Processes share nothing but messages:
``spawn`` starts one, ``send`` puts a message in its mailbox, ``receive``
takes the oldest message, or the oldest one a predicate accepts. Failure
travels through *links* (exit signals, which kill a process or, when it traps
exits, become ``("EXIT", pid, reason)`` messages) and *monitors* (one-way
``("DOWN", ref, "process", pid, reason)`` messages).

Exactly as OTP:

* message order between two processes is kept; a dead pid drops messages;
* a selective receive leaves the messages it skips queued, in order;
* ``"normal"`` exit signals are ignored unless trapped; ``"kill"`` sent with
  :func:`exit` cannot be trapped and reaches links as ``"killed"``; any other
  reason kills a process that does not trap exits;
* a process that dies is dead at once for everyone: its names and Registry
  keys are gone before its links and monitors fire.

What a threaded Python runtime does instead of preemption: a process killed
while it runs Python code is interrupted at its next bytecode boundary (an
asynchronous exception). One blocked in a C call (``time.sleep``, a socket
read) keeps its thread until the call returns, but it is already dead to all
other processes and can send nothing more. Use :func:`sleep`, which a kill
interrupts.

A thread that is not a process (a notebook cell, a test) gets a *shell*
identity on first use: a process with no thread of its own that traps exits,
so ``self()``, ``receive()``, links and monitors work from it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from queue import Empty

from . import _kernel as k
from . import _threads
from ._kernel import Pid, Ref, check_alive, check_timeout, current, deliver, resolve
from .errors import Exit, NoProc, ReceiveTimeout

__all__ = [
    "Pid", "Ref", "spawn", "spawn_link", "spawn_monitor", "self", "send", "receive", "flush",
    "sleep", "link", "unlink", "monitor", "demonitor", "trap_exit", "exit", "alive", "make_ref",
]


# -- spawning -----------------------------------------------------------------

def bootstrap(proc: k.Process, fn, args) -> None:
    """Run a process's body in the calling (worker) thread, then book its death."""
    with k._lock:
        if not proc.alive:
            return
        proc.ident = threading.get_ident()
        proc.interruptible = True
    k._local.proc = proc
    proc.status = "running"
    try:
        try:
            proc.in_body = True
            fn(*args)
            reason = "normal"
        except k.Killed:
            return                      # the killer already did the bookkeeping
        except Exit as e:
            reason = e.reason
        except BaseException as e:      # noqa: BLE001 - any crash becomes the exit reason
            reason = e
            if proc.behaviour is None:  # behaviours write their own crash reports
                k.log.error("Error in process %r (%s) with exit value: %r", proc.pid, proc.label,
                            e, exc_info=(type(e), e, e.__traceback__))
        finally:
            proc.in_body = False
        k.die(proc, reason)
    except k.Killed:
        pass


def spawn_process(fn, args=(), *, link: bool = False, monitor_ref: Ref | None = None,
                  label: str | None = None, behaviour: str | None = None) -> Pid:
    """Start a process running ``fn(*args)``, linked and/or monitored atomically.

    The primitive under :func:`spawn`, behaviours and tasks; ``label`` names
    the thread and shows in ``info()["module"]``.
    """
    if not callable(fn):
        raise TypeError(f"spawn needs a callable, got {fn!r}")
    me = current()
    check_alive(me)
    label = label or getattr(fn, "__qualname__", None) or type(fn).__name__
    proc = k.Process(label)
    proc.behaviour = behaviour
    with k._lock:
        k._procs[proc.pid.id] = proc
        proc.parent = me.pid
        if link:
            proc.links.add(me)
            me.links.add(proc)
        if monitor_ref is not None:
            proc.monitors[monitor_ref] = me
            me.monitoring[monitor_ref] = proc
        if k._tracer is not None:
            k._tracer("spawn", me.pid, proc.pid, label)
            if link:
                k._tracer("link", me.pid, proc.pid, None)
            if monitor_ref is not None:
                k._tracer("monitor", me.pid, proc.pid, monitor_ref)
    try:
        _threads.start(proc, fn, args, f"gs {proc.pid!r} {label}")   # a parked thread, or a new one
    except BaseException:
        _abandon(me, proc, monitor_ref)
        raise
    return proc.pid


def _abandon(me: k.Process, proc: k.Process, monitor_ref) -> None:
    """Undo a spawn interrupted by Ctrl-C, or by the caller's own death: no one will hold the pid,
    so the process is killed, with no link EXIT and no DOWN for the caller (they go first)."""
    with k._lock:
        me.links.discard(proc)
        proc.links.discard(me)
        if monitor_ref is not None:
            proc.monitors.pop(monitor_ref, None)
            me.monitoring.pop(monitor_ref, None)
        k.kill_all(deque([(proc, "killed")]))


def spawn(fn, *args) -> Pid:
    """Start a process running ``fn(*args)`` (OTP ``spawn/1``); returns its Pid."""
    return spawn_process(fn, args)


def spawn_link(fn, *args) -> Pid:
    """Like :func:`spawn`, linked to the caller in one step (OTP ``spawn_link/1``)."""
    return spawn_process(fn, args, link=True)


def spawn_monitor(fn, *args) -> tuple[Pid, Ref]:
    """Like :func:`spawn`, monitored by the caller in one step (OTP ``spawn_monitor/1``)."""
    ref = Ref()
    return spawn_process(fn, args, monitor_ref=ref), ref


def self() -> Pid:
    """The calling process's pid (OTP ``self()``); a non-process thread gets a shell."""
    return current().pid


def make_ref() -> Ref:
    """A new unique reference (OTP ``make_ref()``)."""
    return Ref()


def alive(pid: Pid) -> bool:
    """Whether ``pid`` is alive (OTP ``is_process_alive/1``)."""
    if type(pid) is not Pid:
        raise TypeError(f"alive needs a Pid, got {pid!r}")
    return pid._proc.alive


# -- messages -----------------------------------------------------------------

def send(dest, msg):
    """Send ``msg`` to ``dest`` (OTP ``send/2``); returns ``msg``.

    ``dest`` is a Pid (a dead one drops the message, as OTP does), a registered
    name (unknown: :class:`NoProc`) or a ``("via", module, name)`` tuple, which
    goes through ``module.send(name, msg)`` as OTP's ``{via, Mod, Name}``.
    """
    me = current()
    check_alive(me)
    if type(dest) is Pid:
        deliver(me.pid, dest._proc, msg)
    elif type(dest) is tuple and len(dest) == 3 and dest[0] == "via":
        k.via_module(dest).send(dest[2], msg)
    else:
        target = resolve(dest)
        if target is None:
            raise NoProc(dest, f"cannot send to {dest!r}: no process is registered under that name")
        deliver(me.pid, target, msg)
    return msg


def receive(match=None, timeout: float | None = None):
    """Take the oldest message in the caller's mailbox (OTP ``receive ... after``).

    Args:
        match: ``None`` takes any message; a predicate ``fn(msg) -> bool``
            makes this a selective receive: messages it rejects stay queued,
            in order, for later receives.
        timeout: seconds to wait; ``None`` waits forever, ``0`` only looks.

    Raises:
        ReceiveTimeout: no matching message arrived in time.
    """
    check_timeout(timeout)
    return take(current(), match, timeout)


def take(me: k.Process, match, timeout, peer=None, fresh: bool = False):
    """The receive primitive: ``me`` takes its oldest message ``match`` accepts.

    ``peer`` is what the trace records as the receive's peer (a behaviour's
    loop passes its own pid: the message goes to a callback). ``fresh`` skips
    the messages already received and set aside: for an answer that cannot be
    among them (the DOWN of a monitor just made, the ack of a process just
    started), so a waiter does not rescan an old mailbox.
    """
    saved = me.saved
    if saved and not fresh:
        if match is None:
            return _got(me, peer, saved.popleft())
        for i, m in enumerate(saved):
            if match(m):
                del saved[i]
                return _got(me, peer, m)
    deadline = None if timeout is None else time.monotonic() + timeout
    q = me.q
    held = me.shell     # a shell's message waits in `saved` until taken: see pull()
    # a suspended GenServer waits here for system messages: it stays "suspended" meanwhile
    waiting, running = ("suspended",) * 2 if me.status == "suspended" else ("waiting", "running")
    while True:
        try:
            if deadline is None:
                me.status = waiting
                m = pull(q, saved, True, None) if held else q.get()
            else:
                left = deadline - time.monotonic()
                if left > 0:
                    me.status = waiting
                    m = pull(q, saved, True, left) if held else q.get(timeout=left)
                else:
                    m = pull(q, saved, False, None) if held else q.get_nowait()
        except Empty:
            raise ReceiveTimeout(f"no {'matching ' if match else ''}message arrived "
                                 f"within {timeout} s") from None
        finally:
            me.status = running
        if m is k._WAKE:
            if held:
                del saved[-1]
            check_alive(me)
            continue
        try:
            ok = match is None or match(m)
        except BaseException:
            if not held:
                saved.append(m)
            raise
        if ok:
            if held:
                del saved[-1]
            return _got(me, peer, m)
        if not held:
            saved.append(m)


def pull(q, saved, block: bool, timeout):
    """Move the next message from the queue to the end of ``saved`` and return it.

    The move happens in C (``deque.extend`` over ``map``), with no bytecode
    between taking the message and storing it, so a KeyboardInterrupt (a
    SIGINT, which Python raises in the main thread at its next bytecode) can
    land before or after the move but never drop the message in between.
    Shells use it: the notebook's thread is the one that gets Ctrl-C.
    Process threads take the faster ``q.get()``: the only asynchronous
    exception they get is a kill, after which their mailbox no longer matters.
    """
    saved.extend(map(q.get, (block,), (timeout,)))
    return saved[-1]


def _got(me: k.Process, peer, m):
    if k._tracer is not None:
        k._tracer("receive", me.pid, peer, m)
    return m


def flush() -> list:
    """Remove and return every message now in the caller's mailbox (IEx's ``flush/0``)."""
    me = current()
    drain(me)
    out = list(me.saved)
    me.saved.clear()
    return out


def drain(me: k.Process) -> None:
    """Move, without blocking, everything queued for ``me`` onto its saved deque (in order).

    Only ``me`` takes from its queue, so a non-empty queue has a message to
    get; each moves in C, as :func:`pull` does (a Ctrl-C cannot drop it).
    """
    q, saved = me.q, me.saved
    while not q.empty():
        saved.extend(map(q.get, (False,)))
        if saved[-1] is k._WAKE:
            saved.pop()


def sleep(seconds: float) -> None:
    """Pause the calling process (Elixir ``Process.sleep``); unlike ``time.sleep``, a kill interrupts it.

    Messages that arrive meanwhile stay in the mailbox, in order.
    """
    check_timeout(seconds, "seconds", allow_none=False)
    try:
        receive(_never, seconds)
    except ReceiveTimeout:
        pass


def _never(_msg) -> bool:
    return False


# -- exit signals, links, monitors --------------------------------------------

def exit(pid: Pid, reason) -> None:
    """Send an exit signal to ``pid`` (OTP ``exit/2``); to leave yourself, ``raise gs.Exit(reason)``."""
    if type(pid) is not Pid:
        raise TypeError(f"exit needs a Pid, got {pid!r}")
    me = current()
    check_alive(me)
    work = deque()
    with k._lock:
        k.signal(pid._proc, me.pid, reason, False, work)
        k.kill_all(work)
    check_alive(me)


def trap_exit(flag: bool) -> bool:
    """Set whether the caller traps exits (OTP ``process_flag(trap_exit, Flag)``); returns the old value."""
    if not isinstance(flag, bool):
        raise TypeError(f"trap_exit needs True or False, got {flag!r}")
    me = current()
    with k._lock:
        old, me.trap = me.trap, flag
    return old


def link(pid: Pid) -> None:
    """Link the caller and ``pid`` (OTP ``link/1``).

    Linking to a dead process, as in OTP: a caller that traps exits gets
    ``("EXIT", pid, "noproc")``; one that does not raises :class:`NoProc`.
    """
    if type(pid) is not Pid:
        raise TypeError(f"link needs a Pid, got {pid!r}")
    me = current()
    check_alive(me)
    other = pid._proc
    with k._lock:
        if other.alive:
            if other is not me:
                other.links.add(me)
                me.links.add(other)
                if k._tracer is not None:
                    k._tracer("link", me.pid, pid, None)
            return
        if me.trap:
            deliver(pid, me, ("EXIT", pid, "noproc"), "exit")
            return
    raise NoProc(pid, f"cannot link to {pid!r}: it is not alive")


def unlink(pid: Pid) -> None:
    """Remove the link between the caller and ``pid`` (OTP ``unlink/1``); no-op if none."""
    if type(pid) is not Pid:
        raise TypeError(f"unlink needs a Pid, got {pid!r}")
    me = current()
    with k._lock:
        if pid._proc in me.links:
            me.links.discard(pid._proc)
            pid._proc.links.discard(me)
            if k._tracer is not None:
                k._tracer("unlink", me.pid, pid, None)


def monitor_process(me: k.Process, target: k.Process | None, obj=None) -> Ref:
    """``me`` monitors ``target``; a dead or missing target gets DOWN ``"noproc"`` at once."""
    ref = Ref()
    with k._lock:
        if target is not None and target.alive:
            target.monitors[ref] = me
            me.monitoring[ref] = target
            if k._tracer is not None:
                k._tracer("monitor", me.pid, target.pid, ref)
            return ref
    pid = target.pid if target is not None else obj
    deliver(me.pid, me, ("DOWN", ref, "process", pid, "noproc"), "down")
    return ref


def monitor(target) -> Ref:
    """Monitor a pid, name or via name (OTP ``monitor(process, X)``); returns the monitor's Ref.

    When the target dies the caller gets ``("DOWN", ref, "process", pid, reason)``;
    if it is already dead or the name is unknown, at once with reason
    ``"noproc"`` (for an unknown name the message carries the name in place of
    the pid, as OTP does).
    """
    me = current()
    check_alive(me)
    return monitor_process(me, resolve(target), target)


def demonitor_process(me: k.Process, ref: Ref) -> bool:
    """Remove ``me``'s monitor ``ref``; True if it was still active (so no DOWN was sent)."""
    with k._lock:
        target = me.monitoring.pop(ref, None)
        if target is None:
            return False
        target.monitors.pop(ref, None)
        return True


def demonitor(ref: Ref, flush: bool = False) -> bool:
    """Turn a monitor off (OTP ``demonitor/2``); ``flush=True`` also removes its DOWN if sent.

    Returns True; demonitoring a monitor that fired or never existed is not an error.
    """
    if type(ref) is not Ref:
        raise TypeError(f"demonitor needs the Ref that monitor() returned, got {ref!r}")
    me = current()
    if not demonitor_process(me, ref) and flush:
        drop(me, lambda m: type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is ref)
    return True


def drop(me: k.Process, pred) -> None:
    """Remove, without blocking, the messages in ``me``'s mailbox that ``pred`` accepts."""
    drain(me)
    if me.saved:
        kept = [m for m in me.saved if not pred(m)]
        me.saved.clear()
        me.saved.extend(kept)
