"""The gradebook's tamper guard: snapshot the grader's code before a learner's code runs, restore it after.

A learner's notebook runs in the same process as the checks that grade it
(as an nbgrader autograder does), so it could redefine the checks:
``gs.grading.check = lambda *a: print("5/5 checks passed")``, or patch
``gs.call`` to lie. :class:`Guard` records every function, class and module
bound in ``genserver_lite``'s modules (and in a few standard modules the
grader relies on), the attributes of the package's classes, and the code of
its functions; :meth:`Guard.restore` puts back whatever changed and names it,
so the gradebook grades with its own code and reports the attempt.

It guards against edits, not against a determined attacker who can reach the
grader's frames; the gradebook also runs each submission in a process of its
own with a time limit.
"""

from __future__ import annotations

import sys
import types

__all__ = ["Guard", "WATCHED_STDLIB"]

WATCHED_STDLIB = ("builtins", "time", "threading", "json", "os", "logging", "signal")
_IGNORED = {("builtins", "_"), ("builtins", "__"), ("builtins", "___")}   # IPython's last results
_CODE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
         classmethod, staticmethod, property)
_MISSING = object()


def _is_code(value) -> bool:
    return isinstance(value, _CODE)


def _ours(name: str) -> bool:
    return name == "genserver_lite" or name.startswith("genserver_lite.")


class Guard:
    """A snapshot of the grader's code, taken at construction."""

    def __init__(self):
        self._modules: list[tuple[str, types.ModuleType, dict]] = []
        self._classes: list[tuple[str, type, dict]] = []
        self._functions: list[tuple[str, types.FunctionType, tuple]] = []
        for name, module in sorted(sys.modules.items()):
            if not isinstance(module, types.ModuleType) or not (_ours(name) or name in WATCHED_STDLIB):
                continue
            snap = {k: v for k, v in vars(module).items()
                    if _is_code(v) and (name, k) not in _IGNORED}
            self._modules.append((name, module, snap))
            if not _ours(name):
                continue
            for key, value in snap.items():
                where = f"{name}.{key}"
                if isinstance(value, type) and value.__module__ == name:
                    attrs = {k: v for k, v in vars(value).items() if _is_code(v)}
                    self._classes.append((where, value, attrs))
                    for k, v in attrs.items():
                        fn = v.__func__ if isinstance(v, (classmethod, staticmethod)) else v
                        if isinstance(fn, types.FunctionType):
                            self._functions.append((f"{where}.{k}", fn, _body(fn)))
                elif isinstance(value, types.FunctionType) and value.__module__ == name:
                    self._functions.append((where, value, _body(value)))

    def restore(self) -> list[str]:
        """Put back every changed binding, class attribute and function body; returns what changed, sorted."""
        changed = set()
        for name, module, snap in self._modules:
            now = vars(module)
            for key, value in snap.items():
                if now.get(key, _MISSING) is not value:
                    changed.add(f"{name}.{key}")
                    setattr(module, key, value)
        for where, cls, attrs in self._classes:
            now = dict(vars(cls))
            for key, value in attrs.items():
                if now.get(key, _MISSING) is not value:
                    changed.add(f"{where}.{key}")
                    setattr(cls, key, value)
            for key in now.keys() - attrs.keys():
                if _is_code(now[key]) and not key.startswith("__"):
                    changed.add(f"{where}.{key}")
                    delattr(cls, key)
        for where, fn, body in self._functions:
            if _body(fn) != body:
                changed.add(where)
                fn.__code__, fn.__defaults__, fn.__kwdefaults__ = body[0], body[1], body[2]
        return sorted(changed)


def _body(fn: types.FunctionType) -> tuple:
    kw = fn.__kwdefaults__
    return (fn.__code__, fn.__defaults__, dict(kw) if kw is not None else None)
