"""The generic client protocol every behaviour shares (OTP ``gen.erl`` and ``proc_lib``).

* **start**: spawn the process (linked for ``start_link``), register its name
  *in* the new process, run the behaviour's init there, and wait for its
  acknowledgement. As OTP 26 (``proc_lib:init_fail``): when init fails the
  child unlinks before exiting, so the caller gets a :class:`StartError` and
  no EXIT signal.
* **call**: monitor the server, send ``(tag, (caller, ref), request)``, wait
  for ``(ref, reply)`` or the server's DOWN, demonitor. The ref is also an
  *alias* (OTP 24's process aliases): a reply is delivered only while the
  caller still waits for it, so a reply that comes after the timeout is
  dropped, never left in a mailbox.
* **cast**: send ``("$gen_cast", request)``; never fails on a missing server.
* **reply**: answer a call from anywhere, later (a deferred reply).
* **stop**: ask the process to terminate with a reason and wait for its DOWN.

A server is a Pid, a registered name, or ``("via", module, key)``.
"""

from __future__ import annotations

import time
from queue import Empty

from . import _kernel as k
from ._kernel import Pid, Ref, check_alive, check_timeout, current, deliver, resolve
from .errors import CallTimeout, Exit, NoProc, ReceiveTimeout, StartError
from .process import demonitor_process, drop, monitor_process, spawn_process, take, unlink
from .process import exit as exit_signal

__all__ = ["start", "call", "cast", "reply", "stop"]

_GRACE = 1.0   # how long a timed-out caller still waits for a reply already on its way
_TRUE, _NONE = (True,), (None,)     # q.get's arguments, for map()


def check_name(name) -> None:
    """A ``name=`` option: None, a non-empty string, or a via tuple."""
    if name is None:
        return
    if isinstance(name, str):
        if not name:
            raise ValueError("name= must be a non-empty string")
        return
    if isinstance(name, tuple) and len(name) == 3 and name[0] == "via":
        k.via_module(name)
        return
    raise TypeError(f"name= must be a string or a ('via', module, key) tuple, got {name!r}")


def _register(name, me: k.Process) -> Pid | None:
    """Register the calling process under ``name``; the holder's pid if it is taken."""
    if isinstance(name, str):
        with k._lock:
            holder = k._names.get(name)
            if holder is not None:
                return holder.pid
            k._names[name] = me
            me.name = name
        return None
    mod, key = name[1], name[2]
    if mod.register_name(key, me.pid):
        if k._tracer is not None:     # diagrams show the process by its key, as by a registered name
            k._tracer("register", me.pid, None, via_label(key))
        return None
    return mod.whereis_name(key) or me.pid


def via_label(key) -> str:
    """How a via-named process is shown: the key (a Registry's ``(registry, key)`` shows ``key``)."""
    if type(key) is tuple and len(key) == 2 and isinstance(key[0], str):
        key = key[1]
    return key if isinstance(key, str) else repr(key)


# -- start ---------------------------------------------------------------------

_via_starting: dict = {}   # Process -> its via name, while its init runs (see init_fail)


def _init_it(starter: Pid, tag: Ref, name, body, args) -> None:
    me = current()
    if name is not None:
        holder = _register(name, me)
        if holder is not None:
            init_fail(starter, tag, ("already_started", holder), exit_reason="normal")
        if type(name) is tuple:
            _via_starting[me] = name
    try:
        body(starter, tag, *args)
    finally:
        _via_starting.pop(me, None)


def init_ack(starter: Pid, tag: Ref) -> None:
    """Tell the starter that init succeeded (OTP ``proc_lib:init_ack/1``)."""
    me = current()
    _via_starting.pop(me, None)
    deliver(me.pid, starter._proc, ("$ack", tag, ("ok", None)), "system")


def init_fail(starter: Pid, tag: Ref, reason, exit_reason=None, ignore: bool = False):
    """Tell the starter that init failed, unlink from it, and exit (OTP ``proc_lib:init_fail/3``).

    A via name taken for this start is given back first, as OTP's
    ``gen:unregister_name`` does: the name is free when the starter hears of
    the failure. (A string name goes with the process itself.)
    """
    me = current()
    via = _via_starting.pop(me, None)
    if via is not None:
        via[1].unregister_name(via[2])
    deliver(me.pid, starter._proc, ("$ack", tag, ("ignore", None) if ignore else ("error", reason)),
            "system")
    unlink(starter)
    raise Exit(reason if exit_reason is None else exit_reason)


def start(body, args=(), *, name=None, timeout: float | None = 5.0, link: bool = False,
          label: str = "", behaviour: str | None = None) -> Pid | None:
    """Start a process running ``body(starter, tag, *args)`` and wait for its init to finish.

    ``body`` must call :func:`init_ack` or :func:`init_fail`. Returns the pid,
    or None if init answered ignore.

    Raises:
        StartError: init failed (``.reason``), the name was taken
            (``("already_started", pid)``), or init outlived ``timeout``
            (``"timeout"``; the child is then killed, as OTP does).
    """
    check_name(name)
    check_timeout(timeout)
    tag, mref = Ref(), Ref()
    pid = spawn_process(_init_it, (current().pid, tag, name, body, args), link=link,
                        monitor_ref=mref, label=label, behaviour=behaviour)

    def is_answer(m):
        return type(m) is tuple and ((len(m) == 3 and m[0] == "$ack" and m[1] is tag)
                                     or (len(m) == 5 and m[0] == "DOWN" and m[1] is mref))
    me = current()

    def give_up():      # as OTP on a start timeout: kill the child, leave nothing of it behind
        unlink(pid)
        exit_signal(pid, "kill")
        demonitor_process(me, mref)
        drop(me, lambda m: is_answer(m) or _is_exit_from(m, pid))
    try:
        m = take(me, is_answer, timeout, fresh=True)    # only new messages can answer
    except ReceiveTimeout:
        give_up()
        raise StartError("timeout", f"init of {label or pid!r} did not finish within {timeout} s") from None
    except BaseException:
        if me.alive:    # Ctrl-C in the notebook while init runs: the start is abandoned, as on a timeout
            give_up()
        raise
    who = (label or repr(pid)) + (f" (named {name!r})" if type(name) is tuple else "")   # a via name can fail
    if m[0] == "DOWN":
        raise StartError(m[4], f"{who} exited during init with reason {m[4]!r}")
    if not demonitor_process(me, mref):
        drop(me, lambda m: type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is mref)
    kind, reason = m[2]
    if kind == "ok":
        return pid
    drop(me, lambda m: _is_exit_from(m, pid))   # a trapping starter may have its EXIT queued
    if kind == "ignore":
        return None
    raise StartError(reason, f"{who} failed to start: {reason!r}")


def _is_exit_from(m, pid) -> bool:
    return type(m) is tuple and len(m) == 3 and m[0] == "EXIT" and m[1] is pid


# -- call, cast, reply, stop -----------------------------------------------------

def _target(server, what: str) -> k.Process:
    p = server._proc if type(server) is Pid else resolve(server)
    if p is None or not p.alive:
        raise NoProc(server, f"{what} to {server!r} failed: no process is alive "
                             f"{'at that pid' if type(server) is Pid else 'under that name'}")
    return p


def request(server, tag: str, req, timeout: float | None, kind: str = "call"):
    """Send ``(tag, from, req)`` and wait for the reply: the one call path (``gen:call``).

    Everything between the send and the wait is kept short on purpose: the
    server's reply can only run once this thread blocks and lets go of the GIL.
    """
    if timeout is not None:
        check_timeout(timeout)
    me = current()
    if not me.alive:
        check_alive(me)
    p = server._proc if type(server) is Pid else resolve(server)
    if p is None or not p.alive:
        raise NoProc(server, f"{kind} to {server!r} failed: no process is alive "
                             f"{'at that pid' if type(server) is Pid else 'under that name'}")
    if p is me:
        raise Exit("calling_self", f"a process cannot {kind} itself ({server!r}): it would deadlock")
    ref = k.add_call_monitor(me, p)
    if ref is None:
        raise NoProc(server, f"{kind} to {server!r} failed: it was not alive")
    aliases = me.aliases
    aliases[ref] = True
    q = me.q
    saved = me.saved
    held = me.shell     # Ctrl-C may interrupt a shell: its messages wait in `saved` until taken
    msg = (tag, (me.pid, ref), req)
    left = timeout
    t0 = time.monotonic()
    done = False
    try:
        deliver(me.pid, p, msg, kind)
        while True:
            if left is None:
                if held:
                    saved.extend(map(q.get, _TRUE, _NONE))    # into `saved` in C: see process.pull
                    m = saved[-1]
                else:
                    m = q.get()
            else:
                try:
                    if held:
                        saved.extend(map(q.get, (left > 0,), (left,)))
                        m = saved[-1]
                    else:
                        m = q.get(timeout=left) if left > 0 else q.get_nowait()
                except Empty:
                    if aliases.pop(ref, None) is not None:   # no reply was sent: none will be
                        if k._tracer is not None:
                            k._tracer("timeout", me.pid, p.pid, (msg, timeout))
                        raise CallTimeout(server, timeout) from None
                    left = _GRACE    # the server took the alias: its reply is on its way
                    continue
            if m.__class__ is tuple:
                if len(m) == 2 and m[0] is ref:     # (length first: an empty tuple may be queued too)
                    done = True
                    if held:
                        del saved[-1]
                    if not k.remove_call_monitor(me, p, ref):
                        drop(me, lambda d: _is_down(d, ref))
                    if k._tracer is not None:
                        k._tracer("receive", me.pid, None, m)
                    return m[1]
                if len(m) == 5 and m[1] is ref and m[0] == "DOWN":
                    done = True
                    if held:
                        del saved[-1]
                    aliases.pop(ref, None)
                    reason = m[4]
                    if k._is(reason, "noproc"):
                        raise NoProc(server, f"{kind} to {server!r} failed: it was not alive")
                    raise Exit(reason, f"{server!r} exited with reason {reason!r} during the {kind} "
                                       f"{req!r}")
            elif m is k._WAKE:
                if held:
                    del saved[-1]
                check_alive(me)
                continue
            if not held:
                saved.append(m)
            if left is not None:
                left = timeout - (time.monotonic() - t0)
    finally:
        if not done:   # timeout, interrupt (KeyboardInterrupt) or kill: leave nothing behind
            aliases.pop(ref, None)
            k.remove_call_monitor(me, p, ref)
            drop(me, lambda d: _is_down(d, ref) or (type(d) is tuple and len(d) == 2 and d[0] is ref))


def _is_down(m, ref) -> bool:
    return type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is ref


def call(server, request_, timeout: float | None = 5.0):
    """Send a request and wait for the reply (OTP ``gen_server:call/3``).

    Raises:
        CallTimeout: no reply within ``timeout`` seconds (None waits forever).
        NoProc: the server is dead or the name unknown.
        Exit: the server exited while handling the request (its reason), or
            the caller called itself (``"calling_self"``).
    """
    return request(server, "$gen_call", request_, timeout, "call")


def cast(server, request_) -> None:
    """Send a request without waiting (OTP ``gen_server:cast/2``).

    As OTP, it never fails because the server is missing or dead: the message
    is simply lost. Only a server that is not a pid, name or via tuple raises
    TypeError.
    """
    me = current()
    check_alive(me)
    try:
        p = server._proc if type(server) is Pid else resolve(server)
    except TypeError:
        raise
    except Exception:   # noqa: BLE001 - a broken via module must not fail a cast (OTP catches it)
        return None
    if p is not None:
        deliver(me.pid, p, ("$gen_cast", request_), "cast")
    elif k._tracer is not None:
        k._tracer("drop", me.pid, None, (("$gen_cast", request_), f"cast to unknown {server!r}"))
    return None


def reply(from_, value) -> None:
    """Answer a call whose handler returned ``noreply`` (OTP ``gen_server:reply/2``).

    Any process may reply, once; a reply to a caller that stopped waiting
    (it timed out or died) is dropped.
    """
    if type(from_) is not tuple or len(from_) != 2 or type(from_[0]) is not Pid or type(from_[1]) is not Ref:
        raise TypeError(f"reply needs the from_ argument of handle_call, a (Pid, Ref) tuple, got {from_!r}")
    me = current()
    check_alive(me)
    send_reply(me.pid, from_, value)


def send_reply(sender: Pid, from_, value) -> None:
    """Deliver a reply if its caller still waits for it (the alias check) and the sender is alive
    (a process whose kill Python lost in a GC callback runs on for a moment: it answers no one)."""
    caller = from_[0]._proc
    if sender._proc.alive and caller.aliases.pop(from_[1], None) is not None:
        deliver(sender, caller, (from_[1], value), "reply")
    elif k._tracer is not None:
        trace_dropped_reply(sender, from_, value)


def trace_dropped_reply(sender: Pid, from_, value) -> None:
    k._tracer("drop", sender, from_[0], ((from_[1], value), "reply to a caller no longer waiting"))


def same_reason(a, b) -> bool:
    """Whether two exit reasons are the same (identity, or equality that does not raise)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:   # noqa: BLE001 - exotic __eq__
        return False


def stop(server, reason="normal", timeout: float | None = None) -> None:
    """Stop a server: it runs ``terminate(reason, state)`` and exits (OTP ``gen_server:stop/3``).

    Waits for the process to be gone.

    Raises:
        NoProc: no such server.
        Exit: it exited with another reason (e.g. ``terminate`` crashed).
        CallTimeout: it had not exited within ``timeout`` seconds.
    """
    check_timeout(timeout)
    me = current()
    check_alive(me)
    p = _target(server, "stop")
    if p is me:
        raise Exit("calling_self", f"a process cannot stop itself with gs.stop ({server!r}); "
                                   f"return ('stop', reason, state) instead")
    ref = monitor_process(me, p)
    deliver(me.pid, p, ("$system", None, ("terminate", reason)), "system")
    try:
        m = take(me, lambda m: _is_down(m, ref), timeout, fresh=True)
    except BaseException as e:  # the timeout, or Ctrl-C: the server still stops; its DOWN is not left behind
        demonitor_process(me, ref)
        drop(me, lambda d: _is_down(d, ref))
        if isinstance(e, ReceiveTimeout):
            raise CallTimeout(server, timeout, f"{server!r} did not stop within {timeout} s") from None
        raise
    got = m[4]
    if k._is(got, "noproc"):
        raise NoProc(server, f"stop of {server!r} failed: it was not alive")
    if not same_reason(got, reason):
        raise Exit(got, f"{server!r} was asked to stop with {reason!r} but exited with {got!r}")
