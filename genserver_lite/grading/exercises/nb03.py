"""Exercises of notebook 03, the GenServer template (``solutions/03_genserver_template.ipynb``).

03.1 · A Stack server: Elixir's classic first GenServer (``push`` a cast,
``pop`` and ``size`` calls), with the edge case a first version misses (pop
on an empty stack) and the template's rule: the state lives in the process,
passed in and returned, never on ``self``.
"""

from __future__ import annotations

from ..core import Exercise
from ..probes import alive, call, cast, expect, start, state

__all__ = ["STACK"]

STACK = Exercise("03.1", "A Stack server", notebook="03_genserver_template", stars=1, minutes=10,
                 names=["Stack"])


@STACK.check("start_link(items) keeps the items, the first one on top",
             hint="init(self, items) returns ('ok', list(items)); 'size' replies len(state)")
def _initial_items(ns):
    pid = start(ns["Stack"], ["a", "b"])
    expect(call(pid, "size"), 2, "size of Stack(['a', 'b'])")
    expect(call(pid, "pop"), "a", "first pop of Stack(['a', 'b'])")
    expect(call(pid, "pop"), "b", "second pop of Stack(['a', 'b'])")


@STACK.check("pop replies the last item pushed",
             hint="handle_cast(('push', item)) puts the item on top: ('noreply', [item, *state]); "
                  "'pop' replies with the head and keeps the rest")
def _last_in_first_out(ns):
    pid = start(ns["Stack"], [1])
    cast(pid, ("push", 2))
    cast(pid, ("push", 3))
    got = [call(pid, "pop") for _ in range(3)]
    expect(got, [3, 2, 1], "three pops after Stack([1]), push(2), push(3)")


@STACK.check("pop on an empty stack replies None and keeps the server alive",
             hint="add a case for the empty list that replies None and keeps the state: "
                  "('reply', None, [])")
def _pop_empty(ns):
    pid = start(ns["Stack"], [])
    expect(call(pid, "pop"), None, "pop of an empty stack")
    assert alive(pid), "the server died after pop on an empty stack"
    cast(pid, ("push", "x"))
    expect(call(pid, "pop"), "x", "pop after pushing 'x' onto the emptied stack")


@STACK.check("size follows pushes and pops, and does not change the stack",
             hint="'size' replies len(state) and returns the state unchanged")
def _size(ns):
    pid = start(ns["Stack"], [])
    expect(call(pid, "size"), 0, "size of an empty stack")
    for item in ("a", "b", "c"):
        cast(pid, ("push", item))
    expect(call(pid, "size"), 3, "size after three pushes")
    expect(call(pid, "size"), 3, "size asked twice in a row")
    expect(call(pid, "pop"), "c", "pop after size")
    expect(call(pid, "size"), 2, "size after a pop")


@STACK.check("the state is the list of items, top first (nothing kept on self)",
             hint="state is passed in and returned, never stored on self: init returns "
                  "('ok', list(items)) and each callback returns the new list")
def _state_is_the_list(ns):
    pid = start(ns["Stack"], ["b"])
    cast(pid, ("push", "a"))
    expect(state(pid), ["a", "b"], "gs.sys.get_state(pid) after Stack(['b']), push('a')")
    expect(call(pid, "pop"), "a", "pop")
    expect(state(pid), ["b"], "gs.sys.get_state(pid) after the pop")
