"""Helpers the runtime's tests share: timeouts, DOWN patterns, a via module."""

import genserver_lite as gs
from genserver_lite.testing import assert_receive

LONG = 5.0     # for things that must happen (the machine is shared and slow at times)
SHORT = 0.1    # for things that must NOT happen


def down(ref, pid=..., reason=...):
    """The pattern of a DOWN message (``...`` matches anything)."""
    return ("DOWN", ref, "process", pid, reason)


def wait_down(ref, pid=..., reason=...):
    return assert_receive(down(ref, pid, reason), LONG)


class Via:
    """A tiny via module (the shape of OTP's ``{via, Mod, Name}``): a dict of names; ``sent`` records sends."""

    def __init__(self):
        self.table = {}
        self.sent = []

    def register_name(self, key, pid):
        if key in self.table and gs.alive(self.table[key]):
            return False
        self.table[key] = pid
        return True

    def unregister_name(self, key):
        self.table.pop(key, None)

    def whereis_name(self, key):
        pid = self.table.get(key)
        return pid if pid is not None and gs.alive(pid) else None

    def send(self, key, msg):
        pid = self.whereis_name(key)
        if pid is None:
            raise gs.NoProc(("via", self, key))
        self.sent.append((key, msg))
        gs.send(pid, msg)
        return pid
