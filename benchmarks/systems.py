"""The three systems measured side by side, behind one small adapter interface.

* ``bare``: what a programmer writes by hand with the standard library. A
  server is a thread looping on a ``queue.SimpleQueue``; a call puts
  ``(request, slot)`` where the slot is a fresh ``SimpleQueue`` for that call
  (the per-call reply slot) and blocks on the slot; a one-way message is a
  bare ``SimpleQueue.put``. No monitors, no timeouts, no error handling: the
  floor that a runtime's features cost against.
* ``pykka``: Pykka 4's ``ThreadingActor`` (the Python actor library a learner
  would otherwise pick): ``ref.ask`` for a call, ``ref.tell`` for a cast.
* ``gs``: genserver_lite: a ``GenServer``, ``gs.call`` and ``gs.cast``.

Every server does the same work per message: count it, and answer a call
with its request. The count lets a row check that no message was lost, so a
path cannot look fast by dropping work.

Each adapter has ``start() -> handle``, ``stop(handle)``, ``caller(handle)``
and ``caster(handle)`` (one-argument callables, bound once outside the timed
loop), ``handled(handle)`` (messages handled so far), ``lookup_table(n)``
(a name table of ``n`` entries and its lookup function), ``settle()``
(tidy up between timed blocks) and ``close()`` (stop everything still running).
"""

from __future__ import annotations

import functools
import threading
from queue import SimpleQueue

import pykka

import genserver_lite as gs

__all__ = ["Bare", "Pykka", "Lite", "all_systems", "by_name", "feature", "MISSING"]

MISSING = "n/a (module missing)"


def feature(module: str, attr: str):
    """``gs.<attr>``, else ``genserver_lite.<module>.<attr>``, else None if that module does not exist yet.

    The supervisor, Registry and tracing are written alongside the
    benchmarks: a row that needs one reports ``n/a (module missing)`` until
    it lands, rather than failing the whole run.
    """
    import importlib
    import types
    exported = getattr(gs, attr, None)
    if exported is not None and not isinstance(exported, types.ModuleType):
        return exported     # (``gs.trace`` may also be the submodule, before __init__ re-exports it)
    full = f"genserver_lite.{module}"
    try:
        mod = importlib.import_module(full)
    except ModuleNotFoundError as e:
        if e.name == full:
            return None
        raise
    return getattr(mod, attr)

_STOP = object()


# -- bare threads ---------------------------------------------------------------------

class _BareServer:
    """A thread serving a SimpleQueue: ``(request, slot)`` is a call, anything else a one-way message."""

    __slots__ = ("q", "thread", "handled")

    def __init__(self):
        self.q = SimpleQueue()
        self.handled = 0
        self.thread = threading.Thread(target=self._serve, name="bench bare server", daemon=True)
        self.thread.start()

    def _serve(self) -> None:      # runs in the server's own thread
        get = self.q.get
        while True:
            m = get()
            self.handled += 1
            if m.__class__ is tuple:
                request, slot = m
                if request is _STOP:
                    slot.put(None)
                    return
                slot.put(request)


class Bare:
    """Bare threads and SimpleQueues: the baseline every ratio divides by."""

    name = "bare"
    label = "bare threads (SimpleQueue)"

    def __init__(self):
        self._live: set[_BareServer] = set()

    def start(self) -> _BareServer:
        srv = _BareServer()
        self._live.add(srv)
        return srv

    def stop(self, srv: _BareServer) -> None:
        slot = SimpleQueue()
        srv.q.put((_STOP, slot))
        slot.get()
        srv.thread.join()
        self._live.discard(srv)

    def caller(self, srv: _BareServer):
        put = srv.q.put

        def call(request, put=put, Slot=SimpleQueue):
            slot = Slot()
            put((request, slot))
            return slot.get()
        return call

    def caster(self, srv: _BareServer):
        return srv.q.put

    def handled(self, srv: _BareServer) -> int:
        return srv.handled

    def lookup_table(self, n: int):
        """A dict under a lock: the floor for a name lookup that other threads may change."""
        lock = threading.Lock()
        table = {f"key-{i}": object() for i in range(n)}

        def lookup(key, lock=lock, table=table):
            with lock:
                return table.get(key)
        return lookup, list(table), lambda: None

    def settle(self) -> None:
        pass

    def close(self) -> None:
        for srv in list(self._live):
            self.stop(srv)


# -- Pykka --------------------------------------------------------------------------------

class _PykkaEcho(pykka.ThreadingActor):
    def __init__(self):
        super().__init__()
        self.handled = 0

    def on_receive(self, message):      # runs in the actor's thread
        self.handled += 1
        return message


class Pykka:
    """Pykka 4 ``ThreadingActor``: ask for a call, tell for a cast."""

    name = "pykka"
    label = "Pykka ThreadingActor"

    def start(self):
        return _PykkaEcho.start()

    def stop(self, ref) -> None:
        ref.stop()

    def caller(self, ref):
        return ref.ask

    def caster(self, ref):
        return ref.tell

    def handled(self, ref) -> int:
        return ref.proxy().handled.get()

    def lookup_table(self, n: int):
        """``ActorRegistry.get_by_urn`` over ``n`` live actors (Pykka's only name lookup)."""
        refs = [_PykkaEcho.start() for _ in range(n)]

        def close():
            for ref in refs:
                ref.stop()
        return pykka.ActorRegistry.get_by_urn, [r.actor_urn for r in refs], close

    def settle(self) -> None:
        pass

    def close(self) -> None:
        pykka.ActorRegistry.stop_all()


# -- genserver_lite ------------------------------------------------------------------------

class Echo(gs.GenServer):
    """The benchmark's server: counts every message, answers a call with its request."""

    def init(self, arg):
        return ("ok", 0)

    def handle_call(self, request, from_, n):
        return ("reply", request, n + 1)

    def handle_cast(self, request, n):
        return ("noreply", n + 1)


class Lite:
    """genserver_lite: ``Echo.start_link``, ``gs.call``, ``gs.cast``, ``gs.stop``."""

    name = "gs"
    label = "genserver_lite"

    def start(self):
        return Echo.start_link()

    def stop(self, pid) -> None:
        gs.stop(pid)

    def caller(self, pid):
        return functools.partial(gs.call, pid)

    def caster(self, pid):
        return functools.partial(gs.cast, pid)

    def handled(self, pid) -> int:
        return gs.sys.get_state(pid)

    def lookup_table(self, n: int):
        """``Registry.lookup`` in a unique Registry of ``n`` keys; None if registry.py is missing."""
        registry = feature("registry", "Registry")
        if registry is None:
            return None
        name = f"bench-registry-{id(self)}-{n}"
        reg = registry.start_link(keys="unique", name=name)
        keys = [f"key-{i}" for i in range(n)]
        for key in keys:
            registry.register(name, key, None)
        return functools.partial(registry.lookup, name), keys, lambda: gs.stop(reg, "shutdown")

    def settle(self) -> None:
        """``gs.reset()``: joins finished process threads, stops the timer thread, empties the shell's mailbox."""
        gs.reset()

    def close(self) -> None:
        gs.reset()


def all_systems() -> list:
    """Fresh adapters, in the table's column order."""
    return [Bare(), Pykka(), Lite()]


def by_name(name: str):
    """The adapter class called ``name`` ("bare", "pykka" or "gs")."""
    for cls in (Bare, Pykka, Lite):
        if cls.name == name:
            return cls()
    raise ValueError(f"unknown system {name!r}: expected 'bare', 'pykka' or 'gs'")
