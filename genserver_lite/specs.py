"""Child specifications: how a supervisor starts, restarts and stops a child (Elixir ``Supervisor.child_spec/2``).

A child is given in one of three forms, exactly as in Elixir:

* a class: ``Counter`` means ``Counter.child_spec(None)``;
* a pair: ``(Counter, 5)`` means ``Counter.child_spec(5)``;
* a dict with the keys below.

``Cls.child_spec(arg)`` comes from :class:`~genserver_lite.GenServer` and is
shaped by the class attributes ``restart`` and ``shutdown``. Every form is
normalised and checked here, before anything starts, and a malformed one
raises :class:`~genserver_lite.ChildSpecError` naming the child and the field.

==============  ==================================================================
key             meaning
==============  ==================================================================
``id``          required; unique within a supervisor (any hashable value)
``start``       required; ``(callable, args)`` or a callable: returns a Pid, None
                (ignore) or raises
``restart``     ``"permanent"`` (always), ``"transient"`` (only after an abnormal
                exit) or ``"temporary"`` (never); default permanent
``shutdown``    seconds to wait after the ``"shutdown"`` exit signal before the
                kill, ``"brutal_kill"`` or ``"infinity"``; default 5.0 for a
                worker, ``"infinity"`` for a supervisor
``type``        ``"worker"`` or ``"supervisor"``; default worker
``modules``     names shown by ``which_children``; default the start callable's
                class or function name
==============  ==================================================================
"""

from __future__ import annotations

import math

from .errors import ChildSpecError

__all__ = ["child_spec", "supervise", "normalize", "child_options", "STRATEGIES", "RESTARTS"]

RESTARTS = ("permanent", "transient", "temporary")
TYPES = ("worker", "supervisor")
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
KEYS = ("id", "start", "restart", "shutdown", "type", "modules")


def _describe(child) -> str:
    """A child as a message shows it: classes by name."""
    if isinstance(child, dict):
        child = child.get("id", child)
    if isinstance(child, type):
        return child.__name__
    if isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], type):
        return f"({child[0].__name__}, {child[1]!r})"
    return repr(child)


def _base(child) -> dict:
    if isinstance(child, dict):
        return dict(child)
    if isinstance(child, type):
        cls, arg = child, None
    elif isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], type):
        cls, arg = child
    else:
        raise ChildSpecError(f"invalid child {child!r}: expected a class, a (class, arg) pair or a "
                             f"spec dict with 'id' and 'start'")
    make = getattr(cls, "child_spec", None)
    if not callable(make):
        raise ChildSpecError(f"child {cls.__name__}: the class has no child_spec(arg); subclass "
                             f"gs.GenServer or give a spec dict")
    spec = make(arg)
    if not isinstance(spec, dict):
        raise ChildSpecError(f"child {cls.__name__}: {cls.__name__}.child_spec returned {spec!r}, "
                             f"not a dict")
    return dict(spec)


def _name_of(fn) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):
        return owner.__name__
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _check(spec: dict, who: str) -> dict:
    unknown = sorted(set(spec) - set(KEYS), key=str)
    if unknown:
        raise ChildSpecError(f"child {who}: unknown field(s) {unknown}; a spec has {list(KEYS)}")
    if "id" not in spec:
        raise ChildSpecError(f"child {who}: missing field 'id'")
    try:
        hash(spec["id"])
    except TypeError:
        raise ChildSpecError(f"child {who}: field 'id' must be hashable, got {spec['id']!r}") from None
    who = _describe(spec)
    if "start" not in spec:
        raise ChildSpecError(f"child {who}: missing field 'start'")
    start = spec["start"]
    if callable(start):
        start = (start, ())
    elif isinstance(start, (tuple, list)) and len(start) == 2 and callable(start[0]) \
            and isinstance(start[1], (tuple, list)):
        start = (start[0], tuple(start[1]))
    else:
        raise ChildSpecError(f"child {who}: field 'start' must be a callable or (callable, args), "
                             f"got {spec['start']!r}")
    kind = spec.get("type", "worker")
    if kind not in TYPES:
        raise ChildSpecError(f"child {who}: field 'type' must be one of {TYPES}, got {kind!r}")
    restart = spec.get("restart", "permanent")
    if restart not in RESTARTS:
        raise ChildSpecError(f"child {who}: field 'restart' must be one of {RESTARTS}, got {restart!r}")
    shutdown = spec.get("shutdown", "infinity" if kind == "supervisor" else 5.0)
    if not (shutdown in ("brutal_kill", "infinity")
            or (isinstance(shutdown, (int, float)) and not isinstance(shutdown, bool) and shutdown >= 0
                and math.isfinite(shutdown))):
        raise ChildSpecError(f"child {who}: field 'shutdown' must be a finite number of seconds >= 0, "
                             f"'brutal_kill' or 'infinity', got {shutdown!r}")
    modules = spec.get("modules", [_name_of(start[0])])
    if not isinstance(modules, (list, tuple)):
        raise ChildSpecError(f"child {who}: field 'modules' must be a list, got {modules!r}")
    return {"id": spec["id"], "start": start, "restart": restart, "shutdown": shutdown,
            "type": kind, "modules": list(modules)}


def normalize(child) -> dict:
    """A child in any of the three forms, as a complete, checked spec dict."""
    return _check(_base(child), _describe(child))


def child_spec(child, **overrides) -> dict:
    """Build a spec and override some fields (Elixir ``Supervisor.child_spec/2``).

    ``gs.child_spec((Session, "s1"), id="s1", restart="transient")``.
    """
    bad = sorted(set(overrides) - set(KEYS))
    if bad:
        raise ChildSpecError(f"child {_describe(child)}: unknown override(s) {bad}; a spec has {list(KEYS)}")
    spec = _base(child)
    spec.update(overrides)
    return _check(spec, _describe(child))


def child_options(who: str, arg, options, example: str, *, optional: bool = True) -> dict:
    """A copy of the options dict a behaviour's ``child_spec(arg)`` takes, checked.

    ``(gs.Registry, {...})``, ``(gs.TaskSupervisor, {...})``: ``arg`` must be a
    dict (or None, when ``optional``) whose keys are all in ``options``; a
    ChildSpecError names the child and the culprit.
    """
    if arg is None and optional:
        return {}
    if not isinstance(arg, dict):
        raise ChildSpecError(f"child {who}: needs {'None or ' if optional else ''}an options dict "
                             f"such as {example}, got {arg!r}")
    unknown = sorted(set(arg) - set(options), key=str)
    if unknown:
        raise ChildSpecError(f"child {who}: unknown option(s) {unknown}; options are {list(options)}")
    return dict(arg)


def check_flags(strategy, max_restarts, max_seconds, strategies=STRATEGIES) -> None:
    """Supervisor flags, as OTP checks them: each bad one is a ValueError naming the flag."""
    if strategy not in strategies:
        raise ValueError(f"strategy must be one of {strategies}, got {strategy!r}")
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        raise ValueError(f"max_restarts must be an int >= 0, got {max_restarts!r}")
    if isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float)) \
            or not (0 < max_seconds < math.inf):        # also refuses NaN, as OTP refuses infinity
        raise ValueError(f"max_seconds must be a finite number of seconds > 0, got {max_seconds!r}")


def supervise(children, *, strategy: str = "one_for_one", max_restarts: int = 3,
              max_seconds: float = 5.0) -> dict:
    """What a Supervisor subclass's ``init`` returns (Elixir ``Supervisor.init/2``).

    Checks the flags (ValueError naming the flag) and every child
    (ChildSpecError naming the child and field; duplicate ids too).
    """
    check_flags(strategy, max_restarts, max_seconds)
    if isinstance(children, (str, bytes, dict)) or not hasattr(children, "__iter__"):
        raise ChildSpecError(f"children must be a list of children, got {children!r}")
    specs, seen = [], set()
    for child in children:
        spec = normalize(child)
        if spec["id"] in seen:
            raise ChildSpecError(f"duplicate child id {spec['id']!r}: give each child a unique id "
                                 f"(gs.child_spec(child, id=...))")
        seen.add(spec["id"])
        specs.append(spec)
    return {"strategy": strategy, "max_restarts": max_restarts, "max_seconds": max_seconds,
            "children": specs}
