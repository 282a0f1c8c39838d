"""Registry: a local key -> process store that anyone reads without asking its owner (Elixir ``Registry``).

A registry maps keys to the processes that registered them, each entry with
a value. With ``keys="unique"`` a key names at most one process (a name
service: ``("via", gs.Registry, (registry, key))`` names a GenServer); with
``keys="duplicate"`` a key gathers any number of processes (a pub/sub topic:
:meth:`Registry.dispatch` reaches them all). Only the calling process can
register itself, and its entries vanish when it dies.

How it works, and where it differs from Elixir:

* The registry is itself a GenServer (``gs.info(pid)["behaviour"]`` is
  ``"Registry"``) that owns a *table*: a dict per partition, each guarded by
  its own lock. Reads (``lookup``, ``keys``, ``values``, ``count``,
  ``select``, ``dispatch``, via-name resolution) go straight to the table
  from the reader's own thread, as Elixir's go straight to ETS: they never
  queue behind the registry process.
* A process's entries are removed *synchronously, as part of its death*, by
  a kernel cleanup hook, before its links and monitors fire: whoever gets
  its DOWN already sees ``lookup() == []``, and a supervisor can restart a
  via-named child under the same key at once. (Elixir's cleanup is
  asynchronous: the partition learns of the death by an EXIT message.)
* As in Elixir, the registry links to each process that registers a key and
  unlinks when it holds none, so a registry that crashes takes down the
  processes registered in it (start the registry before, and under the same
  supervisor as, the processes that use it). When the registry process dies
  its table dies with it: every later call naming it raises :class:`NoProc`.
* Keys compare strictly, as Elixir's ``===``: ``1``, ``1.0`` and ``True`` are
  three keys (Python's dict would merge them), and so are tuples that contain
  them. Keys must be hashable. ``partitions=N`` shards the table (unique: by
  key hash; duplicate: by pid) with no visible difference to callers.
"""

from __future__ import annotations

from . import _kernel as k
from . import process
from ._kernel import Pid, check_alive, current
from ._registry_table import Table, find_table, prep, tables
from .errors import AlreadyRegistered, ChildSpecError, NoProc
from .genserver import GenServer, start_server
from .specs import child_options

__all__ = ["Registry"]

KINDS = ("unique", "duplicate")
_OPTIONS = ("keys", "name", "partitions")


def _check_pid(pid, fn: str) -> Pid:
    if type(pid) is not Pid:
        raise TypeError(f"Registry.{fn} needs a Pid, got {pid!r}")
    return pid


class MissingName(ValueError, TypeError):
    """``Registry.start_link`` without ``name=``: a ValueError as every bad option here, and a
    TypeError as Python reports a missing required argument (Elixir: ArgumentError)."""


def _check_options(keys, name, partitions) -> None:
    if keys not in KINDS:
        raise ValueError(f"Registry keys= must be 'unique' or 'duplicate', got {keys!r}")
    if name is None:
        raise MissingName("Registry.start_link needs name=, the registry's name (a non-empty "
                         "string): every Registry function finds its table by that name")
    if not isinstance(name, str):
        raise TypeError(f"Registry name= must be a non-empty string, got {name!r}")
    if not name:
        raise ValueError("Registry name= must be a non-empty string, got ''")
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise ValueError(f"Registry partitions= must be a positive int, got {partitions!r}")


def _via_parts(name, fn: str):
    if type(name) is tuple and len(name) in (2, 3) and type(name[0]) in (str, Pid):
        return name[0], name[1], (name[2] if len(name) == 3 else None)
    raise TypeError(f"Registry.{fn}: a via name is ('via', gs.Registry, (registry, key)) or "
                    f"(registry, key, value), got {name!r}")


class Registry(GenServer):
    """A key -> process registry (Elixir ``Registry``); see the module docstring.

    The class is also the *via module* of ``("via", gs.Registry, (registry, key))``
    names, through :meth:`register_name`, :meth:`unregister_name`,
    :meth:`whereis_name` and :meth:`send`, exactly OTP's ``{via, Mod, Name}``
    protocol. ``(registry, key, value)`` registers the server with ``value``.
    """

    behaviour_name = "Registry"

    # -- starting (the caller's process) ------------------------------------------------

    @classmethod
    def start_link(cls, keys: str = "unique", *, name: str | None = None, partitions: int = 1,
                   timeout: float | None = 5.0) -> Pid:
        """Start a registry linked to the caller, registered as ``name`` (Elixir ``Registry.start_link/1``).

        Raises:
            ValueError: ``keys`` is not "unique"/"duplicate", ``name`` is missing
                (also a TypeError then) or empty, or ``partitions`` is not a positive int.
            TypeError: ``name`` is not a string.
            StartError: ``name`` is taken (``("already_started", pid)``).
        """
        _check_options(keys, name, partitions)
        return start_server(cls, (keys, name, partitions), name=name, timeout=timeout, link=True)

    @classmethod
    def start(cls, keys: str = "unique", *, name: str | None = None, partitions: int = 1,
              timeout: float | None = 5.0) -> Pid:
        """Like :meth:`start_link`, unlinked."""
        _check_options(keys, name, partitions)
        return start_server(cls, (keys, name, partitions), name=name, timeout=timeout, link=False)

    @classmethod
    def child_spec(cls, arg=None) -> dict:
        """A supervisor child: ``(gs.Registry, {"keys": "unique", "name": "reg"})`` (Elixir ``Registry.child_spec/1``).

        The id is the registry's name. Elixir makes the registry a supervisor
        of partitions; here it is one worker process.
        """
        opts = child_options("Registry", arg, _OPTIONS, "{'keys': 'unique', 'name': 'my_registry'}",
                             optional=False)
        try:
            _check_options(opts.get("keys", "unique"), opts.get("name"), opts.get("partitions", 1))
        except (TypeError, ValueError) as e:
            raise ChildSpecError(f"child Registry: {e}") from None
        return {"id": opts["name"], "start": (cls._start_child, (opts,)), "restart": cls.restart,
                "shutdown": cls.shutdown, "type": "worker", "modules": ["Registry"]}

    @classmethod
    def _start_child(cls, opts: dict) -> Pid:
        return cls.start_link(opts.get("keys", "unique"), name=opts["name"],
                              partitions=opts.get("partitions", 1))

    # -- callbacks (the registry's own process) -----------------------------------------

    def init(self, arg):
        """Create the table and tie its life to this process; trap the registrants' exits."""
        kind, name, partitions = arg
        process.trap_exit(True)
        me = current()
        table = Table(name, kind, partitions, me)
        with k._lock:
            tables[name] = table
            me.cleanups.append(table.registry_died)
        return ("ok", table)

    def handle_info(self, msg, state):
        """A registrant's EXIT (through the registry link) needs nothing: its entries left at its death."""
        if type(msg) is tuple and len(msg) == 3 and msg[0] == "EXIT":
            return ("noreply", state)
        return super().handle_info(msg, state)

    # -- writes (the caller registers or unregisters itself) ----------------------------

    @staticmethod
    def register(reg, key, value=None) -> None:
        """Register the calling process under ``key`` with ``value`` (Elixir ``Registry.register/3``).

        A process may hold many keys; in a duplicate registry it may hold the
        same key several times. Returns None (Elixir returns ``{:ok, owner}``).

        Raises:
            AlreadyRegistered: a unique key is taken, even by the caller
                (``.pid`` is the holder, ``.key`` the key).
            NoProc: no registry is running as ``reg``.
            TypeError: the key is not hashable.
        """
        table = find_table(reg, "register")
        sk, h = prep(key, "register")
        me = current()
        with k._lock:
            check_alive(me)
            if not table.alive:
                raise NoProc(reg, f"Registry.register: registry {reg!r} is not running")
            part = table.part(h, me.pid)
            with part.lock:
                table.insert(part, sk, key, me.pid, value)
            table.join(me)

    @staticmethod
    def unregister(reg, key) -> None:
        """Remove every entry of the calling process under ``key`` (Elixir ``Registry.unregister/2``).

        A key the caller does not hold is not an error. When the caller holds
        no key any more, the registry unlinks from it.
        """
        table = find_table(reg, "unregister")
        sk, h = prep(key, "unregister")
        me = current()
        with k._lock:
            if not table.alive:
                raise NoProc(reg, f"Registry.unregister: registry {reg!r} is not running")
            part = table.part(h, me.pid)
            with part.lock:
                table.remove(part, sk, me.pid)
            table.leave_if_done(me)

    @staticmethod
    def update_value(reg, key, fn):
        """Replace the caller's value under a unique ``key`` with ``fn(old)``; returns ``(new, old)``
        (Elixir ``Registry.update_value/3``). ``fn`` runs in the caller.

        Raises:
            KeyError: the caller does not hold ``key`` (Elixir returns ``:error``).
            ValueError: the registry has duplicate keys (Elixir raises ArgumentError).
        """
        if not callable(fn):
            raise TypeError(f"Registry.update_value needs a function of the old value, got {fn!r}")
        table = find_table(reg, "update_value")
        if not table.unique:
            raise ValueError(f"Registry.update_value works only on unique registries; {reg!r} "
                             f"has duplicate keys")
        sk, h = prep(key, "update_value")
        pid = current().pid
        part = table.part(h, pid)
        with part.lock:
            entry = part.keys.get(sk)
        if entry is None or entry[1] is not pid:
            holder = "no process" if entry is None else repr(entry[1])
            raise KeyError(f"Registry.update_value: {pid!r} does not hold key {key!r} in "
                           f"registry {reg!r} ({holder} does)")
        new = fn(entry[2])
        with part.lock:
            now = part.keys.get(sk)
            if now is not None and now[1] is pid:
                part.keys[sk] = (now[0], pid, new)
                return (new, entry[2])
        raise KeyError(f"Registry.update_value: {pid!r} gave up key {key!r} while its update ran")

    # -- reads (the caller's own thread, straight from the table) -----------------------

    @staticmethod
    def lookup(reg, key) -> list:
        """``[(pid, value)]`` of the processes under ``key`` (Elixir ``Registry.lookup/2``); [] if none."""
        table = find_table(reg, "lookup")
        return table.lookup(*prep(key, "lookup"))

    @staticmethod
    def keys(reg, pid: Pid) -> list:
        """The keys ``pid`` holds, in registration order per partition (Elixir ``Registry.keys/2``)."""
        _check_pid(pid, "keys")
        return find_table(reg, "keys").keys_of(pid)

    @staticmethod
    def values(reg, key, pid: Pid) -> list:
        """The values ``pid`` registered under ``key`` (Elixir ``Registry.values/3``)."""
        _check_pid(pid, "values")
        table = find_table(reg, "values")
        sk, h = prep(key, "values")
        return table.values_of(sk, h, pid)

    @staticmethod
    def count(reg) -> int:
        """How many entries the registry holds (Elixir ``Registry.count/1``)."""
        return find_table(reg, "count").count()

    @staticmethod
    def select(reg, where=None) -> list:
        """``[(key, pid, value)]`` for every entry, or those where ``where(key, pid, value)`` is true
        (Elixir ``Registry.select/2``, with a predicate in place of a match spec).

        ``where`` runs in the caller on a snapshot, outside every lock.
        """
        if where is not None and not callable(where):
            raise TypeError(f"Registry.select: where= must be fn(key, pid, value) -> bool or None, "
                            f"got {where!r}")
        snapshot = find_table(reg, "select").snapshot()
        if where is None:
            return snapshot
        return [e for e in snapshot if where(*e)]

    @staticmethod
    def dispatch(reg, key, fn) -> None:
        """Call ``fn([(pid, value), ...])`` with the entries under ``key``, in the caller; nothing if there are none
        (Elixir ``Registry.dispatch/3``; Elixir calls ``fn`` once per partition, this once in all).
        """
        if not callable(fn):
            raise TypeError(f"Registry.dispatch needs a function of the entries, got {fn!r}")
        entries = Registry.lookup(reg, key)
        if entries:
            fn(entries)

    # -- the via protocol (OTP {via, Mod, Name}) ----------------------------------------

    @staticmethod
    def register_name(name, pid: Pid) -> bool:
        """Register the caller, which must be ``pid``, under ``(registry, key[, value])``; False if taken.

        Called by ``gs.GenServer.start*`` *inside* the new process. Via names
        need a unique registry (Elixir raises ArgumentError for duplicate ones).
        """
        reg, key, value = _via_parts(name, "register_name")
        me = current()
        if pid is not me.pid:
            raise ValueError(f"Registry.register_name registers the calling process {me.pid!r}, "
                             f"not {pid!r}")
        if not find_table(reg, "register_name").unique:
            raise ValueError(f"via names need a unique registry; {reg!r} has duplicate keys")
        try:
            Registry.register(reg, key, value)
        except AlreadyRegistered:
            return False
        return True

    @staticmethod
    def unregister_name(name) -> None:
        """Unregister the caller's via name (OTP's ``unregister_name/1``)."""
        reg, key, _ = _via_parts(name, "unregister_name")
        Registry.unregister(reg, key)

    @staticmethod
    def whereis_name(name) -> Pid | None:
        """The pid under ``(registry, key)``, or None (OTP's ``whereis_name/1``)."""
        reg, key, _ = _via_parts(name, "whereis_name")
        table = find_table(reg, "whereis_name")
        if not table.unique:
            raise ValueError(f"via names need a unique registry; {reg!r} has duplicate keys")
        found = Registry.lookup(reg, key)
        return found[0][0] if found else None

    @staticmethod
    def send(name, msg):
        """Send ``msg`` to the process under ``(registry, key)`` (OTP's via ``send/2``); returns ``msg``.

        Raises:
            NoProc: no process holds the key (OTP exits with badarg).
        """
        reg, key, _ = _via_parts(name, "send")
        pid = Registry.whereis_name(name)
        if pid is None:
            raise NoProc(("via", Registry, name), f"cannot send to key {key!r} in registry {reg!r}: "
                                                  f"no process is registered under it")
        return process.send(pid, msg)


