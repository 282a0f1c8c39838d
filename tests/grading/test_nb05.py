"""Exercises of notebook 05 (calls, casts and info): the reference solutions pass; plausible learner mistakes fail with the right hint."""

from dataclasses import dataclass, replace

import pytest

import genserver_lite as gs
from grading_asserts import assert_fails_with_hints, assert_passes, grade_fails


# -- 05.1 · A deferred reply ------------------------------------------------------------------

def fetch_and_reply(from_, fetch, url):
    gs.reply(from_, fetch(url))


class Fetcher(gs.GenServer):
    """The reference solution, as in solutions/05_calls_casts_info.ipynb."""

    def init(self, fetch):
        return ("ok", fetch)

    def handle_call(self, request, from_, fetch):
        match request:
            case ("get", url):
                gs.Task.start(fetch_and_reply, from_, fetch, url)
                return ("noreply", fetch)
            case "ping":
                return ("reply", "pong", fetch)


class BlockingFetcher(Fetcher):
    """The server the exercise starts from: it fetches inside handle_call."""

    def handle_call(self, request, from_, fetch):
        if request[0] == "get":
            return ("reply", fetch(request[1]), fetch)
        return super().handle_call(request, from_, fetch)


class AwaitsTheTask(Fetcher):
    """A task, but awaited inside handle_call: the server still waits for every fetch."""

    def handle_call(self, request, from_, fetch):
        if request[0] == "get":
            return ("reply", gs.Task.await_(gs.Task.async_(fetch, request[1])), fetch)
        return super().handle_call(request, from_, fetch)


class LinkedTask(Fetcher):
    """Task.start_link: the task's crash is an exit signal that kills the server."""

    def handle_call(self, request, from_, fetch):
        if request[0] == "get":
            gs.Task.start_link(fetch_and_reply, from_, fetch, request[1])
            return ("noreply", fetch)
        return super().handle_call(request, from_, fetch)


class OneCaller(gs.GenServer):
    """Keeps 'the' caller in the state; the task sends the page back to the server, which replies to it."""

    def init(self, fetch):
        return ("ok", {"fetch": fetch, "caller": None})

    def handle_call(self, request, from_, state):
        match request:
            case ("get", url):
                server = gs.self()
                gs.Task.start(lambda: gs.send(server, ("page", state["fetch"](url))))
                return ("noreply", {**state, "caller": from_})
            case "ping":
                return ("reply", "pong", state)

    def handle_info(self, msg, state):
        match msg:
            case ("page", page):
                gs.reply(state["caller"], page)
                return ("noreply", state)
        return super().handle_info(msg, state)


class ForgetsToReply(Fetcher):
    """The task fetches the page and returns it: nobody answers the caller."""

    def handle_call(self, request, from_, fetch):
        if request[0] == "get":
            gs.Task.start(fetch, request[1])
            return ("noreply", fetch)
        return super().handle_call(request, from_, fetch)


GET = "a 'get' call replies with the page, and 'ping' with 'pong'"
RESPONSIVE = "the server answers 'ping' while a page is being fetched"
CONCURRENT = "two pages are fetched at the same time"
OWN = "each caller gets its own page, even when the later fetch ends first"
SURVIVES = "a fetch that crashes leaves the server alive and answering"


def test_the_reference_fetcher_passes_every_check(capsys):
    report = assert_passes("05.1", {"Fetcher": Fetcher}, capsys, n=5)
    assert report.seconds < 1.0


@pytest.mark.parametrize("cls, failing, why", [
    (BlockingFetcher, [RESPONSIVE, CONCURRENT, OWN, SURVIVES],      # fetch('bad') raises in the server
     "why: call 'ping' got no reply within 0.5 s: the server is busy fetching: hand the fetch to a task "
     "and return ('noreply', state)"),
    (AwaitsTheTask, [RESPONSIVE, CONCURRENT, OWN, SURVIVES],        # Task.async_ is linked
     "why: the work for 'slow2' did not start within 0.5 s while the other fetch was running"),
    (LinkedTask, [SURVIVES], "why: call 'ping': the server is not alive (did an earlier message crash it?)"),
    (OneCaller, [CONCURRENT, OWN],
     "why: the answer to ('get', 'slow1'), which ended last: got no answer (CallTimeout), expected '<slow1>'"),
    (ForgetsToReply, [GET, RESPONSIVE, CONCURRENT, OWN, SURVIVES],
     "why: call ('get', 'home') got no reply within 1 s: nobody answered; does the task call "
     "gs.reply(from_, page)?"),
])
def test_a_fetcher_mistake_fails_the_right_checks_with_their_hints(cls, failing, why, capsys):
    report, out = assert_fails_with_hints("05.1", {"Fetcher": cls}, failing, capsys)
    assert why in out
    assert report.seconds < 4.6


def test_the_derived_fetcher_stub_fails_every_check_as_not_implemented(capsys):
    class Stub(Fetcher):
        def init(self, fetch):
            raise NotImplementedError("keep the fetch function as the state")

    report, out = grade_fails("05.1", {"Fetcher": Stub}, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: keep the fetch function as the state") == 5


# -- 05.2 · Many pending callers --------------------------------------------------------------

class Lookup(gs.GenServer):
    """The reference solution."""

    def init(self, opts):
        return ("ok", {"tasks": opts["tasks"], "lookup": opts["lookup"], "deadline": opts["deadline"],
                       "pending": {}})

    def handle_call(self, request, from_, state):
        match request:
            case ("get", key):
                task = gs.TaskSupervisor.async_nolink(state["tasks"], state["lookup"], key)
                timer = gs.send_after(gs.self(), ("deadline", task.ref), state["deadline"])
                return ("noreply", {**state, "pending": {**state["pending"], task.ref: (task, from_, timer)}})

    def handle_info(self, msg, state):
        pending = state["pending"]
        match msg:
            case (gs.Ref() as ref, value) if ref in pending:
                gs.demonitor(ref, flush=True)
                _task, from_, timer = pending[ref]
                gs.cancel_timer(timer)
                gs.reply(from_, ("ok", value))
            case ("DOWN", ref, "process", _pid, reason) if ref in pending:
                _task, from_, timer = pending[ref]
                gs.cancel_timer(timer)
                gs.reply(from_, ("error", reason))
            case ("deadline", ref) if ref in pending:
                task, from_, _timer = pending[ref]
                gs.Task.shutdown(task, "brutal_kill")
                gs.reply(from_, ("error", "timeout"))
            case _:
                return super().handle_info(msg, state)
        return ("noreply", {**state, "pending": {k: v for k, v in pending.items() if k != ref}})


class OneSlot(Lookup):
    """The source's TimeoutServer: each call replaces the pending list."""

    def handle_call(self, request, from_, state):
        r = super().handle_call(request, from_, state)
        newest = {k: v for k, v in r[1]["pending"].items() if k not in state["pending"]}
        return ("noreply", {**r[1], "pending": newest})


class LinkedTasks(Lookup):
    """Task.async_: linked to the server, so a crashing lookup kills it."""

    def handle_call(self, request, from_, state):
        match request:
            case ("get", key):
                task = gs.Task.async_(state["lookup"], key)
                timer = gs.send_after(gs.self(), ("deadline", task.ref), state["deadline"])
                return ("noreply", {**state, "pending": {**state["pending"], task.ref: (task, from_, timer)}})


class NoDeadline(Lookup):
    """No timer: a stuck lookup keeps its caller waiting until the caller gives up."""

    def handle_call(self, request, from_, state):
        match request:
            case ("get", key):
                task = gs.TaskSupervisor.async_nolink(state["tasks"], state["lookup"], key)
                return ("noreply", {**state, "pending": {**state["pending"], task.ref: (task, from_, None)}})

    def handle_info(self, msg, state):
        pending = state["pending"]
        match msg:
            case (gs.Ref() as ref, value) if ref in pending:
                gs.demonitor(ref, flush=True)
                gs.reply(pending[ref][1], ("ok", value))
            case ("DOWN", ref, "process", _pid, reason) if ref in pending:
                gs.reply(pending[ref][1], ("error", reason))
            case _:
                return super().handle_info(msg, state)
        return ("noreply", {**state, "pending": {k: v for k, v in pending.items() if k != ref}})


class DeadlineLeavesTheTask(Lookup):
    """Answers at the deadline but lets the task run on for nobody."""

    def handle_info(self, msg, state):
        match msg:
            case ("deadline", ref) if ref in state["pending"]:
                gs.reply(state["pending"][ref][1], ("error", "timeout"))
                return ("noreply", {**state, "pending": {k: v for k, v in state["pending"].items() if k != ref}})
        return super().handle_info(msg, state)


class NoCancelNoGuard(Lookup):
    """Neither cancels the deadline timer nor checks that its ref is still pending: a late timer crashes it."""

    def handle_info(self, msg, state):
        match msg:
            case (gs.Ref() as ref, value):
                gs.demonitor(ref, flush=True)
                gs.reply(state["pending"][ref][1], ("ok", value))
                return ("noreply", {**state, "pending": {k: v for k, v in state["pending"].items() if k != ref}})
            case ("deadline", ref):
                task, from_, _ = state["pending"][ref]
                gs.Task.shutdown(task, "brutal_kill")
                gs.reply(from_, ("error", "timeout"))
                return ("noreply", {**state, "pending": {k: v for k, v in state["pending"].items() if k != ref}})
        return super().handle_info(msg, state)


class NoCatchAll(Lookup):
    """Clauses for its own messages only: a stray message falls through and returns None."""

    def handle_info(self, msg, state):
        match msg:
            case (gs.Ref(), _) | ("DOWN", gs.Ref(), "process", _, _) | ("deadline", _):
                return super().handle_info(msg, state)


LOOKUP_OK = "a get replies ('ok', value)"
FIVE = "five callers wait at once, and each gets its own value"
CRASH = "a lookup that crashes is answered ('error', reason), and the server lives on"
DEADLINE = "a lookup past the deadline is answered ('error', 'timeout') and its task is stopped"
NOTHING_LEFT = "a finished lookup leaves nothing behind; a late deadline or a stray message does no harm"


def test_the_reference_lookup_passes_every_check(capsys):
    report = assert_passes("05.2", {"Lookup": Lookup}, capsys, n=5)
    assert report.seconds < 1.0


@pytest.mark.parametrize("cls, failing, why", [
    (OneSlot, [FIVE],
     "why: the answer to ('get', 'slow3'): got no answer (CallTimeout), expected ('ok', '<slow3>')"),
    (LinkedTasks, [CRASH],
     "why: the server crashed handling call ('get', 'bad'): LookupError: no entry for 'bad'"),
    (NoDeadline, [DEADLINE],
     "why: the answer to ('get', 'slow') when its 5 s deadline passed: got no answer (CallTimeout), "
     "expected ('error', 'timeout')"),
    (DeadlineLeavesTheTask, [DEADLINE],
     "why: the task still runs after its deadline: stop it with gs.Task.shutdown(task, 'brutal_kill')"),
    (NoCancelNoGuard, [NOTHING_LEFT],
     "why: after its deadline passed, could not read the server's state: it crashed: KeyError"),
    (NoCatchAll, [NOTHING_LEFT],
     "why: after a stray message 'hello?', could not read the server's state: it crashed: "
     "('bad_return_value', None)"),
])
def test_a_lookup_mistake_fails_the_right_checks_with_their_hints(cls, failing, why, capsys):
    report, out = assert_fails_with_hints("05.2", {"Lookup": cls}, failing, capsys)
    assert why in out
    assert report.seconds < 4.6


def test_the_derived_lookup_stub_fails_every_check_as_not_implemented(capsys):
    class Stub(Lookup):
        def init(self, opts):
            raise NotImplementedError("keep the options and an empty pending dict")

    report, out = grade_fails("05.2", {"Lookup": Stub}, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: keep the options") == 5


# -- 05.3 · A batch processor -----------------------------------------------------------------

def process_batch(sink, why, batch):
    gs.send(sink, ("batch", why, batch))


@dataclass(frozen=True)
class BatchState:
    sink: object
    size: int
    timeout: float
    batch: tuple = ()
    timer: object = None
    tag: object = None


class BatchProcessor(gs.GenServer):
    """The reference solution."""

    def init(self, opts):
        gs.trap_exit(True)
        return ("ok", BatchState(opts["sink"], opts["size"], opts["timeout"]))

    def handle_cast(self, request, state):
        match request:
            case ("add_item", item):
                state = replace(state, batch=state.batch + (item,))
                if len(state.batch) >= state.size:
                    return ("noreply", self.flush(state, "size"))
                if state.timer is None:
                    tag = gs.make_ref()
                    timer = gs.send_after(gs.self(), ("batch_timeout", tag), state.timeout)
                    return ("noreply", replace(state, timer=timer, tag=tag))
                return ("noreply", state)

    def handle_info(self, msg, state):
        match msg:
            case ("batch_timeout", tag) if tag == state.tag:
                return ("noreply", self.flush(state, "time"))
            case ("batch_timeout", _stale):
                return ("noreply", state)
        return super().handle_info(msg, state)

    def terminate(self, reason, state):
        self.flush(state, "shutdown")

    @staticmethod
    def flush(state, why):
        if state.batch:
            process_batch(state.sink, why, state.batch)
        if state.timer is not None:
            gs.cancel_timer(state.timer)
        return replace(state, batch=(), timer=None, tag=None)


class StaleTimer(BatchProcessor):
    """The source's BatchProcessor: an untagged timer message, flushing whatever is there."""

    def handle_cast(self, request, state):
        state = replace(state, batch=state.batch + (request[1],))
        if len(state.batch) >= state.size:
            return ("noreply", self.flush(state, "size"))
        if state.timer is None:
            return ("noreply", replace(state, timer=gs.send_after(gs.self(), "batch_timeout", state.timeout)))
        return ("noreply", state)

    def handle_info(self, msg, state):
        if msg == "batch_timeout":
            return ("noreply", self.flush(state, "time"))
        return super().handle_info(msg, state)


class NeverByTime(BatchProcessor):
    """Size only: a partial batch waits for ever."""

    def handle_cast(self, request, state):
        state = replace(state, batch=state.batch + (request[1],))
        if len(state.batch) >= state.size:
            return ("noreply", self.flush(state, "size"))
        return ("noreply", state)


class TimerNotCleared(BatchProcessor):
    """A flush by time keeps the old timer in the state: the next batch never starts one."""

    def handle_info(self, msg, state):
        match msg:
            case ("batch_timeout", tag) if tag == state.tag:
                process_batch(state.sink, "time", state.batch)
                return ("noreply", replace(state, batch=()))
        return super().handle_info(msg, state)


class TimerPerItem(BatchProcessor):
    """Restarts the timer on every item: a steady trickle is never flushed by time."""

    def handle_cast(self, request, state):
        state = replace(state, batch=state.batch + (request[1],))
        if len(state.batch) >= state.size:
            return ("noreply", self.flush(state, "size"))
        if state.timer is not None:
            gs.cancel_timer(state.timer)
        tag = gs.make_ref()
        return ("noreply", replace(state, timer=gs.send_after(gs.self(), ("batch_timeout", tag), state.timeout),
                                   tag=tag))


class NoTrapExit(BatchProcessor):
    """terminate flushes, but without trapping exits the supervisor's shutdown kills it first."""

    def init(self, opts):
        return ("ok", BatchState(opts["sink"], opts["size"], opts["timeout"]))


class FlushesEmptyBatches(BatchProcessor):
    def terminate(self, reason, state):
        process_batch(state.sink, "shutdown", state.batch)


SIZE = "a full batch is flushed at once, by size"
TIME = "a partial batch is flushed by time, timeout seconds after its first item"
AGAIN = "after a flush by time, the next item starts a new timer"
STALE = "a stale timer does not flush the next batch early"
SHUTDOWN = "items still waiting when a supervisor stops the server are flushed; no empty batch"


def test_the_reference_batch_processor_passes_every_check(capsys):
    report = assert_passes("05.3", {"BatchProcessor": BatchProcessor}, capsys, n=5)
    assert report.seconds < 1.0


@pytest.mark.parametrize("cls, failing, why", [
    (StaleTimer, [STALE],
     "why: batches at 1 s: 'c' filled the batch, then the timer set for 'a' arrived, after 'd': got "
     "[('size', ('a', 'b', 'c')), ('time', ('d',))], expected [('size', ('a', 'b', 'c'))]"),
    (NeverByTime, [TIME, AGAIN, STALE],
     "why: batches 2 s after 'a', with 'b' added at 1 s: got [], expected [('time', ('a', 'b'))]"),
    (TimerNotCleared, [AGAIN], "why: batches 2 s after 'b': got [], expected [('time', ('b',))]"),
    (TimerPerItem, [TIME], "why: batches 2 s after 'a', with 'b' added at 1 s: got [], expected "
                           "[('time', ('a', 'b'))]"),
    (NoTrapExit, [SHUTDOWN],
     "why: batches when the supervisor stopped a server holding (1, 2): got [], expected "
     "[('shutdown', (1, 2))]"),
    (FlushesEmptyBatches, [SHUTDOWN],
     "why: batches when the supervisor stopped a server holding (): got [('shutdown', ())], expected []"),
])
def test_a_batch_mistake_fails_the_right_checks_with_their_hints(cls, failing, why, capsys):
    report, out = assert_fails_with_hints("05.3", {"BatchProcessor": cls}, failing, capsys)
    assert why in out
    assert report.seconds < 2.0


def test_the_derived_batch_stub_fails_every_check_as_not_implemented(capsys):
    class Stub(BatchProcessor):
        def init(self, opts):
            raise NotImplementedError("trap exits and start from BatchState")

    report, out = grade_fails("05.3", {"BatchProcessor": Stub}, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: trap exits and start from BatchState") == 5
