"""DynamicSupervisor: a supervisor that starts with no children and adds them on demand (Elixir ``DynamicSupervisor``).

A static Supervisor knows its children up front; a DynamicSupervisor is for
children you create at run time, one per session, connection or job::

    sup = gs.DynamicSupervisor.start_link(name="terminals", max_children=100)
    pid = gs.DynamicSupervisor.start_child("terminals", (Terminal, {"id": 7}))
    gs.DynamicSupervisor.terminate_child("terminals", pid)

Children are identified by pid (they have no ids of their own); the strategy
is always ``"one_for_one"``; restart types and restart intensity work exactly
as for Supervisor. ``extra_arguments`` are put in front of each child's start
arguments, and ``max_children`` caps how many run at once. A child that will
not be restarted (temporary, or transient after a normal exit) is forgotten.

Module-based, as in Elixir: subclass it and return
``gs.DynamicSupervisor.flags(...)`` from ``init(self, arg)``.
"""

from __future__ import annotations

import functools

from ._kernel import Pid
from ._supervision import Child, State, SupervisorServer, await_shutdown, begin_shutdown, sup_call
from .specs import check_flags, child_options, normalize
from .errors import StartError
from .genserver import start_server
from .process import trap_exit

__all__ = ["DynamicSupervisor"]

_UNSET = object()
_OPTIONS = ("strategy", "max_restarts", "max_seconds", "max_children", "extra_arguments", "name", "timeout")


def _flags(strategy, max_restarts, max_seconds, max_children, extra_arguments) -> dict:
    check_flags(strategy, max_restarts, max_seconds, strategies=("one_for_one",))
    if max_children is not None and (isinstance(max_children, bool) or not isinstance(max_children, int)
                                     or max_children < 0):
        raise ValueError(f"max_children must be None (no limit) or an int >= 0, got {max_children!r}")
    if not isinstance(extra_arguments, (tuple, list)):
        raise ValueError(f"extra_arguments must be a tuple or list, got {extra_arguments!r}")
    return {"strategy": strategy, "max_restarts": max_restarts, "max_seconds": max_seconds,
            "max_children": max_children, "extra_arguments": tuple(extra_arguments)}


class _DynamicServer(SupervisorServer):
    """The DynamicSupervisor process's callbacks (run in its own process)."""

    def init(self, arg):
        trap_exit(True)
        kind, payload, module = arg
        if kind == "init":
            cls, user_arg = payload
            flags = cls().init(user_arg)
            if flags == "ignore":
                return "ignore"
            if not (isinstance(flags, dict) and "max_children" in flags):
                return ("stop", ("bad_return_value", flags))
        else:
            flags = payload
        state = State("DynamicSupervisor", module, flags["strategy"], flags["max_restarts"],
                      flags["max_seconds"])
        state.max_children = flags["max_children"]
        state.extra_arguments = flags["extra_arguments"]
        return ("ok", state)

    def handle_request(self, request, from_, state):
        match request:
            case "which_children":
                return ("reply", ("ok", [("undefined", c.pid, c.type, list(c.modules))
                                         for c in state.children]), state)
            case ("start_child", spec):
                running = sum(1 for c in state.children if c.running() or c.pid == "restarting")
                if state.max_children is not None and running >= state.max_children:
                    return ("reply", ("error", StartError(
                        "max_children", f"the DynamicSupervisor already has its max_children "
                                        f"({state.max_children}) children")), state)
                child = Child(spec)
                try:
                    pid = self.start_child_record(state, child)
                except StartError as e:
                    return ("reply", ("error", e), state)
                if pid is not None:
                    state.children.append(child)
                return ("reply", ("ok", pid), state)
            case ("terminate_child", pid):
                child = None
                if type(pid) is Pid:    # a child being restarted is still known by the pid that died
                    child = state.find_pid(pid) or next(
                        (c for c in state.children if c.pid == "restarting" and c.last_pid is pid), None)
                if child is None:
                    return ("reply", ("error", LookupError(
                        f"{pid!r} is not a child of this DynamicSupervisor")), state)
                self.stop_child(state, child)
                state.children.remove(child)
                return ("reply", ("ok", None), state)
        return super().handle_request(request, from_, state)

    def forget(self, state: State, child: Child) -> None:
        if child in state.children:
            state.children.remove(child)
        child.pid, child.status = None, "terminated"

    def restart_ignored(self, state: State, child: Child) -> None:
        """A restart answered ignore: the child is forgotten (Elixir's DynamicSupervisor)."""
        self.forget(state, child)

    def stop_all(self, state: State) -> None:
        """Shut every child down at once, each with its own deadline (OTP ``terminate_dynamic_children``).

        Dynamic children are peers with no start order to respect, so a
        thousand sessions each taking a second to stop take a second, not
        a thousand.
        """
        stopping = [(c, begin_shutdown(c.pid, c.shutdown)) for c in reversed(state.children) if c.running()]
        for child, pending in stopping:
            self.child_stopped(state, child, await_shutdown(*pending))


class DynamicSupervisor:
    """Start and drive dynamic supervisors; subclass it and define ``init`` for a module-based one."""

    restart = "permanent"
    shutdown = "infinity"
    child_type = "supervisor"

    @staticmethod
    def flags(*, strategy: str = "one_for_one", max_restarts: int = 3, max_seconds: float = 5.0,
              max_children: int | None = None, extra_arguments=()) -> dict:
        """What a subclass's ``init`` returns (Elixir ``DynamicSupervisor.init/1``); checks every flag."""
        return _flags(strategy, max_restarts, max_seconds, max_children, extra_arguments)

    @classmethod
    def start_link(cls, arg=_UNSET, *, strategy: str = "one_for_one", max_restarts: int = 3,
                   max_seconds: float = 5.0, max_children: int | None = None, extra_arguments=(),
                   name=None, timeout: float | None = None) -> Pid | None:
        """Start a dynamic supervisor with no children, linked to the caller (Elixir ``DynamicSupervisor.start_link/1``).

        A subclass is started as ``Cls.start_link(arg, name=...)`` and takes its
        flags from ``init(arg)``. Bad flags raise ValueError naming the flag.
        """
        return cls._start(arg, name, timeout, True, strategy, max_restarts, max_seconds,
                          max_children, extra_arguments)

    @classmethod
    def start(cls, arg=_UNSET, *, strategy: str = "one_for_one", max_restarts: int = 3,
              max_seconds: float = 5.0, max_children: int | None = None, extra_arguments=(),
              name=None, timeout: float | None = None) -> Pid | None:
        """Like :meth:`start_link`, unlinked."""
        return cls._start(arg, name, timeout, False, strategy, max_restarts, max_seconds,
                          max_children, extra_arguments)

    @classmethod
    def _start(cls, arg, name, timeout, link, *flags):
        if cls is DynamicSupervisor:
            if arg is not _UNSET:
                raise TypeError("DynamicSupervisor.start_link takes only keyword options; subclass it "
                                "to pass an init argument")
            payload = ("flags", _flags(*flags), "DynamicSupervisor")
        else:
            if not callable(getattr(cls, "init", None)):
                raise TypeError(f"{cls.__name__} must define init(self, arg) returning "
                                f"gs.DynamicSupervisor.flags(...)")
            payload = ("init", (cls, None if arg is _UNSET else arg), cls.__name__)
        return start_server(_DynamicServer, payload, name=name, timeout=timeout, link=link,
                            label=payload[2], behaviour="DynamicSupervisor")

    @classmethod
    def child_spec(cls, arg=None) -> dict:
        """This dynamic supervisor as a child of another supervisor.

        For ``gs.DynamicSupervisor`` itself, ``arg`` is None or a dict of
        :meth:`start_link`'s options, and a ``name`` is also the child's id,
        as in Elixir: ``(gs.DynamicSupervisor, {"name": "jobs", "max_children": 10})``.
        A subclass gets ``arg`` as its ``init`` argument.
        """
        spec = {"id": cls, "start": (cls.start_link, (arg,)), "restart": cls.restart,
                "shutdown": cls.shutdown, "type": "supervisor"}
        if cls is DynamicSupervisor:
            opts = child_options("DynamicSupervisor", arg, _OPTIONS, "{'name': 'jobs', 'max_children': 10}")
            spec["start"] = (functools.partial(cls.start_link, **opts), ()) if opts else (cls.start_link, ())
            spec["modules"] = ["DynamicSupervisor"]
            if isinstance(opts.get("name"), str):
                spec["id"] = opts["name"]
        return spec

    @staticmethod
    def start_child(sup, child) -> Pid | None:
        """Start a new child (Elixir ``DynamicSupervisor.start_child/2``); its pid, or None if it answered ignore.

        Raises:
            ChildSpecError: a malformed spec (checked in the caller).
            StartError: ``"max_children"``, or the start's own failure.
        """
        return sup_call(sup, ("start_child", normalize(child)))

    @staticmethod
    def terminate_child(sup, pid: Pid) -> None:
        """Shut a child down and forget it (Elixir ``DynamicSupervisor.terminate_child/2``); LookupError if not a child."""
        return sup_call(sup, ("terminate_child", pid))

    @staticmethod
    def which_children(sup) -> list:
        """``[("undefined", pid | "restarting", type, modules)]``, as Elixir (children have no ids)."""
        return sup_call(sup, "which_children")

    @staticmethod
    def count_children(sup) -> dict:
        """``{"specs", "active", "supervisors", "workers"}``."""
        return sup_call(sup, "count_children")

    @staticmethod
    def describe(sup) -> dict:
        """The same snapshot as ``gs.Supervisor.describe``."""
        return sup_call(sup, "describe")
