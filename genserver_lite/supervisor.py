"""Supervisor: a process that starts children and restarts them when they die (OTP ``supervisor``, Elixir ``Supervisor``).

"Let it crash" only works because something notices the crash and restores a
known good state. A supervisor starts its children in order, links to them
and traps their exits; when one dies, its *restart type* says whether to
restart it and the *strategy* says what else to restart:

* ``"one_for_one"``: only the child that died;
* ``"one_for_all"``: every child (the others are shut down first, newest first);
* ``"rest_for_one"``: the child and the children started after it.

Restart types: ``"permanent"`` always restarts, ``"transient"`` only after an
abnormal exit (not ``"normal"``, ``"shutdown"`` or ``("shutdown", term)``),
``"temporary"`` never (and its spec is dropped). More than ``max_restarts``
restarts within ``max_seconds`` and the supervisor gives up: it shuts every
child down and exits with ``"shutdown"``, so *its* supervisor reacts.

Two ways to define one, as in Elixir::

    sup = gs.Supervisor.start_link([Cache, (Buffer, {"w": 80})], strategy="one_for_one")

    class App(gs.Supervisor):
        def init(self, arg):
            return gs.supervise([Cache, (Buffer, arg)], strategy="rest_for_one")

    sup = App.start_link({"w": 80}, name="app")

A supervisor is itself a GenServer; its callbacks run in its own process.
Children are shut down in reverse start order, each with the ``"shutdown"``
exit signal, then killed after its ``shutdown`` seconds: a supervisor never
waits forever for a worker.
"""

from __future__ import annotations

from ._kernel import Pid
from ._supervision import Child, State, SupervisorServer, child_name, sup_call
from .specs import normalize, supervise
from .errors import ChildSpecError, StartError
from .genserver import start_server
from .process import trap_exit

__all__ = ["Supervisor"]

_UNSET = object()


class _StaticSupervisor(SupervisorServer):
    """The supervisor process's callbacks (runs in the supervisor's own process)."""

    def init(self, arg):
        trap_exit(True)
        kind, payload, module = arg
        if kind == "init":
            cls, user_arg = payload
            try:
                spec = cls().init(user_arg)
            except ChildSpecError as e:     # gs.supervise found a bad child: the caller gets it as itself
                return ("stop", e)
            if spec == "ignore":
                return "ignore"
            if not (isinstance(spec, dict) and {"strategy", "children"} <= set(spec)):
                return ("stop", ("bad_return_value", spec))
        else:
            spec = payload
        state = State("Supervisor", module, spec["strategy"], spec["max_restarts"], spec["max_seconds"])
        for s in spec["children"]:
            child = Child(s)
            state.children.append(child)
            try:
                pid = self.start_child_record(state, child)
            except StartError as e:
                self.record(state, "start_failed", child, reason=e.reason, action="shutdown")
                state.children.remove(child)
                self.stop_all(state)
                return ("stop", ("failed_to_start_child", child.id, e.reason))
            if pid is None and child.restart == "temporary":
                state.children.remove(child)    # OTP keeps no spec for a temporary child that ignored
        return ("ok", state)

    def restart_group(self, state: State, child: Child) -> list:
        if state.strategy == "one_for_all":
            return list(state.children)
        if state.strategy == "rest_for_one":
            return state.children[state.children.index(child):]
        return [child]

    def handle_request(self, request, from_, state):
        match request:
            case "which_children":
                return ("reply", ("ok", [(c.id, c.pid, c.type, list(c.modules)) for c in state.children]),
                        state)
            case ("start_child", spec):
                return ("reply", self.start_new(state, spec), state)
            case ("terminate_child", id_):
                child = state.find_id(id_)
                if child is None:
                    return ("reply", ("error", _not_found(id_)), state)
                if child.running():
                    self.stop_child(state, child)
                child.pid, child.status = None, "terminated"
                if child.restart == "temporary":
                    state.children.remove(child)
                return ("reply", ("ok", None), state)
            case ("restart_child", id_):
                child = state.find_id(id_)
                if child is None:
                    return ("reply", ("error", _not_found(id_)), state)
                if child.running() or child.pid == "restarting":    # OTP: {error, running | restarting}
                    why = "running" if child.running() else "restarting"
                    return ("reply", ("error", StartError(
                        (why, id_), f"child {child_name(id_)} is {why}; terminate it first")), state)
                try:
                    return ("reply", ("ok", self.start_child_record(state, child, "restarted")), state)
                except StartError as e:
                    return ("reply", ("error", e), state)
            case ("delete_child", id_):
                child = state.find_id(id_)
                if child is None:
                    return ("reply", ("error", _not_found(id_)), state)
                if child.running() or child.pid == "restarting":
                    why = "running" if child.running() else "restarting"
                    return ("reply", ("error", RuntimeError(
                        f"child {child_name(id_)} is {why}; terminate_child it before delete_child")), state)
                state.children.remove(child)
                self.record(state, "deleted", child)
                return ("reply", ("ok", None), state)
        return super().handle_request(request, from_, state)

    def start_new(self, state: State, spec: dict):
        old = state.find_id(spec["id"])
        if old is not None:
            if old.running():
                return ("error", StartError(("already_started", old.pid),
                                            f"child {child_name(old.id)} is already started as {old.pid!r}"))
            return ("error", StartError(("already_present", old.id),
                                        f"child {child_name(old.id)} is already present (stopped); use "
                                        f"restart_child or delete_child"))
        child = Child(spec)
        try:
            pid = self.start_child_record(state, child)
        except StartError as e:
            return ("error", e)
        if pid is not None or child.restart != "temporary":   # a temporary child that ignored: no spec (OTP)
            state.children.append(child)
        return ("ok", pid)


def _not_found(id_) -> LookupError:
    return LookupError(f"the supervisor has no child with id {child_name(id_)}")


class Supervisor:
    """Start and query supervisors; subclass it and define ``init`` for a module-based one.

    Class attributes shape :meth:`child_spec` when a supervisor is itself a
    child: ``restart = "permanent"`` and ``shutdown = "infinity"`` (OTP's
    default for supervisors: they take the time they need to stop their own children).
    """

    restart = "permanent"
    shutdown = "infinity"
    child_type = "supervisor"

    @classmethod
    def start_link(cls, arg=None, *, strategy=_UNSET, max_restarts=_UNSET, max_seconds=_UNSET,
                   name=None, timeout: float | None = None) -> Pid | None:
        """Start a supervisor linked to the caller (Elixir ``Supervisor.start_link/2,3``).

        ``gs.Supervisor.start_link(children, strategy=..., max_restarts=3,
        max_seconds=5.0, name=None)`` or, for a subclass, ``Cls.start_link(arg,
        name=...)`` whose ``init(arg)`` returns ``gs.supervise(...)``. Waits
        until every child has started (OTP's default: no start timeout).

        Raises:
            ChildSpecError: a malformed child spec (before anything starts).
            ValueError: a bad flag (unknown strategy, negative intensity, ...).
            StartError: a child failed to start; reason
                ``("failed_to_start_child", id, reason)``. The children already
                started were shut down again.
        """
        return cls._start(arg, strategy, max_restarts, max_seconds, name, timeout, link=True)

    @classmethod
    def start(cls, arg=None, *, strategy=_UNSET, max_restarts=_UNSET, max_seconds=_UNSET,
              name=None, timeout: float | None = None) -> Pid | None:
        """Like :meth:`start_link`, unlinked (a supervisor nobody supervises, e.g. for tests)."""
        return cls._start(arg, strategy, max_restarts, max_seconds, name, timeout, link=False)

    @classmethod
    def _start(cls, arg, strategy, max_restarts, max_seconds, name, timeout, link):
        if cls is Supervisor:
            flags = {"strategy": "one_for_one" if strategy is _UNSET else strategy,
                     "max_restarts": 3 if max_restarts is _UNSET else max_restarts,
                     "max_seconds": 5.0 if max_seconds is _UNSET else max_seconds}
            payload = ("spec", supervise([] if arg is None else arg, **flags), "Supervisor")
        else:
            if any(v is not _UNSET for v in (strategy, max_restarts, max_seconds)):
                raise TypeError(f"{cls.__name__}.start_link takes its flags from init(): return "
                                f"gs.supervise(children, strategy=..., ...) there")
            if not callable(getattr(cls, "init", None)):
                raise TypeError(f"{cls.__name__} must define init(self, arg) returning gs.supervise(...)")
            payload = ("init", (cls, arg), cls.__name__)
        try:
            return start_server(_StaticSupervisor, payload, name=name, timeout=timeout, link=link,
                                label=payload[2], behaviour="Supervisor")
        except StartError as e:
            if isinstance(e.reason, ChildSpecError):    # a module's init built a malformed spec
                raise e.reason from None
            raise

    @classmethod
    def child_spec(cls, arg=None) -> dict:
        """This supervisor as a child of another (Elixir's generated ``child_spec/1``)."""
        return {"id": cls, "start": (cls.start_link, (arg,)), "restart": cls.restart,
                "shutdown": cls.shutdown, "type": "supervisor"}

    # -- querying and changing a running supervisor (Elixir's Supervisor functions) -------------

    @staticmethod
    def which_children(sup) -> list:
        """``[(id, pid | None | "restarting", type, modules)]`` in start order (OTP ``which_children/1``)."""
        return sup_call(sup, "which_children")

    @staticmethod
    def count_children(sup) -> dict:
        """``{"specs", "active", "supervisors", "workers"}`` (OTP ``count_children/1``)."""
        return sup_call(sup, "count_children")

    @staticmethod
    def start_child(sup, child) -> Pid | None:
        """Add a child and start it (OTP ``start_child/2``); returns its pid, or None if it answered ignore.

        Raises:
            ChildSpecError: a malformed spec (checked in the caller).
            StartError: ``("already_started", pid)`` if a child with that id runs,
                ``("already_present", id)`` if one is stopped, or the start's own
                failure (the spec is then not added).
        """
        return sup_call(sup, ("start_child", normalize(child)))

    @staticmethod
    def terminate_child(sup, id_) -> None:
        """Shut a child down and keep its spec (OTP ``terminate_child/2``); LookupError if no such id."""
        return sup_call(sup, ("terminate_child", id_))

    @staticmethod
    def restart_child(sup, id_) -> Pid | None:
        """Start a stopped child again from its spec (OTP ``restart_child/2``)."""
        return sup_call(sup, ("restart_child", id_))

    @staticmethod
    def delete_child(sup, id_) -> None:
        """Remove a stopped child's spec (OTP ``delete_child/2``); RuntimeError if it runs."""
        return sup_call(sup, ("delete_child", id_))

    # -- for pictures and live panels ---------------------------------------------------------

    @staticmethod
    def describe(sup) -> dict:
        """A snapshot: flags, children (status, restart counts), restarts in the window, event history."""
        return sup_call(sup, "describe")

    @staticmethod
    def subscribe(sup):
        """The caller receives ``("supervisor_event", sup_pid, event)`` for each new event; returns a Ref."""
        return sup_call(sup, "subscribe")

    @staticmethod
    def unsubscribe(sup, ref) -> None:
        """Stop the events :meth:`subscribe` asked for."""
        return sup_call(sup, ("unsubscribe", ref))
