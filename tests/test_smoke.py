"""The README's first example runs."""

import genserver_lite as gs


class Stack(gs.GenServer):
    def init(self, items):
        return ("ok", list(items))

    def handle_call(self, request, from_, state):
        match request:
            case "pop":
                head, *rest = state
                return ("reply", head, rest)

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                return ("noreply", [item, *state])


def test_design_example(uname):
    name = uname("stack")
    pid = Stack.start_link([1], name=name)
    gs.cast(name, ("push", 2))
    assert gs.call(name, "pop") == 2
    assert gs.sys.get_state(pid) == [1]
    gs.stop(pid)
    assert not gs.alive(pid)
