"""The table behind a Registry: partitions, strict keys, and cleanup at death (Elixir: the Registry's ETS tables).

Internal to :mod:`genserver_lite.registry`. A table is a list of partitions,
each a pair of dicts guarded by its own lock: ``keys`` (stored key -> entry,
or list of entries for duplicate keys) and ``owned`` (pid -> the stored keys
it holds there). Readers take only a partition lock. Every write that adds or
removes entries also holds the kernel lock, so it cannot interleave with a
death: a process's entries are removed by a kernel cleanup hook
(``Process.cleanups``), which :func:`~genserver_lite._kernel.kill_all` runs
under the kernel lock before the process's links and monitors fire.
"""

from __future__ import annotations

import threading

from . import _kernel as k
from . import process
from ._kernel import Pid
from .errors import AlreadyRegistered, NoProc

tables: dict = {}      # registry name -> its live Table; changed only under k._lock


def skey(key):
    """The key as stored: tagged with its type so comparison is strict, as Elixir's ``===``."""
    t = type(key)
    if t is str:
        return key
    if t is tuple:
        return (tuple, tuple([skey(x) for x in key]))
    if t is int or t is float or t is bool or t is complex:
        return (t, key)
    return key


def prep(key, fn: str):
    """The stored key and its hash; TypeError naming ``fn`` if the key is unhashable."""
    sk = skey(key)
    try:
        return sk, hash(sk)
    except TypeError:
        raise TypeError(f"Registry.{fn}: a key must be hashable (str, number, tuple, ...), "
                        f"got {key!r}") from None


class Partition:
    """One shard: ``keys`` maps a stored key to its entry (unique) or entries (duplicate),
    ``owned`` maps a pid to the stored keys it holds here. Guarded by ``lock``."""

    __slots__ = ("lock", "keys", "owned", "size")

    def __init__(self):
        self.lock = threading.Lock()
        self.keys: dict = {}
        self.owned: dict = {}
        self.size = 0


class Table:
    """A registry's table. Readers use the partition locks; every write that adds or
    removes entries also holds the kernel lock, so it cannot interleave with a death."""

    __slots__ = ("name", "kind", "unique", "parts", "n", "proc", "alive", "members")

    def __init__(self, name: str, kind: str, partitions: int, proc: k.Process):
        self.name = name
        self.kind = kind
        self.unique = kind == "unique"
        self.parts = [Partition() for _ in range(partitions)]
        self.n = partitions
        self.proc = proc                  # the registry process: the table lives as long as it
        self.alive = True
        self.members: dict = {}           # Process -> whether registering created its link

    def __repr__(self) -> str:
        return (f"<Registry table {self.name!r} keys={self.kind} partitions={self.n} "
                f"entries={sum(p.size for p in self.parts)}{'' if self.alive else ' (dead)'}>")

    def part(self, h: int, pid: Pid) -> Partition:
        if self.n == 1:
            return self.parts[0]
        return self.parts[h % self.n] if self.unique else self.parts[pid.id % self.n]

    def parts_of(self, pid: Pid) -> list:
        """The partitions that may hold ``pid``'s entries."""
        return self.parts if self.unique or self.n == 1 else [self.parts[pid.id % self.n]]

    # -- reads (the reader's own thread, under one partition lock at a time) -----------

    def lookup(self, sk, h) -> list:
        if self.unique:
            part = self.parts[h % self.n]
            with part.lock:
                e = part.keys.get(sk)
            return [(e[1], e[2])] if e is not None and e[1]._proc.alive else []
        out = []
        for part in self.parts:
            with part.lock:
                entries = part.keys.get(sk)
                if entries:
                    out.extend((e[1], e[2]) for e in entries)
        return out

    def keys_of(self, pid: Pid) -> list:
        out = []
        for part in self.parts_of(pid):
            with part.lock:
                for sk in part.owned.get(pid, ()):
                    out.append(part.keys[sk][0] if self.unique else first_key(part.keys[sk], pid))
        return out

    def values_of(self, sk, h, pid: Pid) -> list:
        part = self.part(h, pid)
        with part.lock:
            if self.unique:
                e = part.keys.get(sk)
                return [e[2]] if e is not None and e[1] is pid else []
            return [e[2] for e in part.keys.get(sk, ()) if e[1] is pid]

    def count(self) -> int:
        return sum(p.size for p in self.parts)

    def snapshot(self) -> list:
        """Every entry as ``(key, pid, value)``."""
        out = []
        for part in self.parts:
            with part.lock:
                for entry in part.keys.values():
                    if self.unique:
                        out.append(entry)
                    else:
                        out.extend(entry)
        return out

    # -- writes (callers hold k._lock and part.lock) ---------------------------------

    def insert(self, part: Partition, sk, key, pid: Pid, value) -> None:
        if self.unique:
            held = part.keys.get(sk)
            if held is not None:
                raise AlreadyRegistered(key, held[1], f"key {key!r} is already registered by "
                                                      f"{held[1]!r} in registry {self.name!r}")
            part.keys[sk] = (key, pid, value)
            part.owned.setdefault(pid, {})[sk] = None
        else:
            part.keys.setdefault(sk, []).append((key, pid, value))
            part.owned.setdefault(pid, []).append(sk)
        part.size += 1

    def remove(self, part: Partition, sk, pid: Pid) -> None:
        """Remove ``pid``'s entries under ``sk`` in ``part`` (none: nothing happens)."""
        owned = part.owned.get(pid)
        if owned is None or sk not in owned:
            return
        if self.unique:
            del part.keys[sk]
            del owned[sk]
            part.size -= 1
        else:
            kept = [e for e in part.keys[sk] if e[1] is not pid]
            part.size -= len(part.keys[sk]) - len(kept)
            if kept:
                part.keys[sk] = kept
            else:
                del part.keys[sk]
            owned[:] = [s for s in owned if s != sk]
        if not owned:
            del part.owned[pid]

    def drop_pid(self, part: Partition, pid: Pid) -> None:
        owned = part.owned.get(pid)
        if owned is not None:
            for sk in list(dict.fromkeys(owned)):
                self.remove(part, sk, pid)

    # -- membership: the death hook and the link (under k._lock) ----------------------

    def join(self, me: k.Process) -> None:
        if me in self.members:
            return
        reg = self.proc
        linked = reg is not me and reg not in me.links
        if linked:
            process.link(reg.pid)
        me.cleanups.append(self.member_died)
        self.members[me] = linked

    def leave_if_done(self, me: k.Process) -> None:
        pid = me.pid
        if any(pid in p.owned for p in self.parts_of(pid)):
            return
        linked = self.members.pop(me, None)
        if linked is None:
            return
        try:
            me.cleanups.remove(self.member_died)
        except ValueError:
            pass
        if linked:
            process.unlink(self.proc.pid)

    def member_died(self, proc: k.Process) -> None:
        """Kernel cleanup hook: runs in the dying process's death, under k._lock, before its links and monitors fire."""
        if not self.alive:
            return
        self.members.pop(proc, None)
        for part in self.parts_of(proc.pid):
            with part.lock:
                self.drop_pid(part, proc.pid)

    def registry_died(self, proc: k.Process) -> None:
        """Kernel cleanup hook of the registry process itself: its table goes with it."""
        self.alive = False
        if tables.get(self.name) is self:
            del tables[self.name]
        for member in self.members:
            if member is not proc:
                try:
                    member.cleanups.remove(self.member_died)
                except ValueError:
                    pass
        self.members.clear()
        for part in self.parts:
            with part.lock:
                part.keys.clear()
                part.owned.clear()
                part.size = 0


def find_table(reg, fn: str) -> Table:
    """The live table of the registry named ``reg`` (its name, or its pid)."""
    if type(reg) is str:
        t = tables.get(reg)
    elif type(reg) is Pid:
        t = next((t for t in list(tables.values()) if t.proc.pid is reg), None)
    else:
        raise TypeError(f"Registry.{fn} needs a registry's name (str) or pid, got {reg!r}")
    if t is None or not t.alive:
        raise NoProc(reg, f"Registry.{fn}: no registry is running as {reg!r}")
    return t


def first_key(entries, pid: Pid):
    """The key as ``pid`` registered it, among the entries under one stored key."""
    for e in entries:
        if e[1] is pid:
            return e[0]
    raise AssertionError("registry table out of step: an owned key has no entry")  # pragma: no cover


def forget_all() -> None:
    """Reset hook: no table outlives ``gs.reset()``."""
    with k._lock:
        tables.clear()


k._reset_hooks.append(forget_all)
