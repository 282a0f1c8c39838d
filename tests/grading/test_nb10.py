"""Exercise 10.1 (a checkout/checkin worker pool): the reference solution passes; plausible learner mistakes fail with the right hint."""

import random

import pytest

import genserver_lite as gs
from genserver_lite.grading import GradingFailed
from grading_asserts import grade_fails

POOL = gs.grading.get("10.1")
HINTS = {c.title: c.hint for c in POOL.checks}
IN_ORDER, WAITS, OLDEST_FIRST, CRASHED_HOLDER, DEAD_WAITER, CHECKED_IN = (c.title for c in POOL.checks)


class WorkerPool(gs.GenServer):
    """The reference solution, as in solutions/10_performance.ipynb."""

    def init(self, workers):
        return ("ok", {"idle": list(workers), "busy": {}, "waiting": []})

    def handle_call(self, request, from_, state):
        match request:
            case "checkout":
                ref = gs.monitor(from_[0])
                if state["idle"]:
                    worker, *idle = state["idle"]
                    return ("reply", worker, {**state, "idle": idle, "busy": {**state["busy"], worker: ref}})
                return ("noreply", {**state, "waiting": state["waiting"] + [(from_, ref)]})

    def handle_cast(self, request, state):
        match request:
            case ("checkin", worker):
                if worker not in state["busy"]:
                    return ("noreply", state)
                gs.demonitor(state["busy"][worker], flush=True)
                return ("noreply", self.hand_over(worker, state))

    def handle_info(self, msg, state):
        match msg:
            case ("DOWN", ref, "process", _pid, _reason):
                for worker, held_by in state["busy"].items():
                    if held_by == ref:
                        return ("noreply", self.hand_over(worker, state))
                return ("noreply", {**state, "waiting": [(f, r) for f, r in state["waiting"] if r != ref]})
        return super().handle_info(msg, state)

    @staticmethod
    def hand_over(worker, state):
        busy = {w: r for w, r in state["busy"].items() if w != worker}
        if state["waiting"]:
            (from_, ref), *waiting = state["waiting"]
            gs.reply(from_, worker)
            return {**state, "busy": {**busy, worker: ref}, "waiting": waiting}
        return {**state, "busy": busy, "idle": state["idle"] + [worker]}


class RandomCheckout(gs.GenServer):
    """The source's WorkerPool: checkout picks any worker at random, checkin does nothing
    (seeded, so the test is the same every run)."""

    def init(self, workers):
        return ("ok", (list(workers), random.Random(1)))

    def handle_call(self, request, from_, state):
        workers, rng = state
        return ("reply", rng.choice(workers), state)

    def handle_cast(self, request, state):
        return ("noreply", state)


class ForgetsTheQueue(WorkerPool):
    """With no idle worker, returns ('noreply', state) but never keeps from_: the caller waits forever."""

    def handle_call(self, request, from_, state):
        if request == "checkout" and not state["idle"]:
            return ("noreply", state)
        return super().handle_call(request, from_, state)


class NoClientMonitor(WorkerPool):
    """Never monitors its clients: a crashed client's worker stays checked out for good."""

    def handle_call(self, request, from_, state):
        if request == "checkout":
            if state["idle"]:
                worker, *idle = state["idle"]
                return ("reply", worker, {**state, "idle": idle, "busy": {**state["busy"], worker: None}})
            return ("noreply", {**state, "waiting": state["waiting"] + [(from_, None)]})
        return super().handle_call(request, from_, state)

    def handle_cast(self, request, state):
        match request:
            case ("checkin", worker) if worker in state["busy"]:
                return ("noreply", self.hand_over(worker, state))
        return ("noreply", state)


class NewestFirst(WorkerPool):
    """Serves the most recent waiter first: pushes waiters on the front of the queue."""

    def handle_call(self, request, from_, state):
        if request == "checkout" and not state["idle"]:
            ref = gs.monitor(from_[0])
            return ("noreply", {**state, "waiting": [(from_, ref)] + state["waiting"]})
        return super().handle_call(request, from_, state)


class IgnoresDeadWaiters(WorkerPool):
    """Handles a holder's DOWN but not a waiter's: a worker is later handed to a dead caller."""

    def handle_info(self, msg, state):
        match msg:
            case ("DOWN", ref, "process", _pid, _reason):
                for worker, held_by in state["busy"].items():
                    if held_by == ref:
                        return ("noreply", self.hand_over(worker, state))
                return ("noreply", state)
        return super().handle_info(msg, state)


class ClientKeyed(gs.GenServer):
    """Keeps {client: worker} and forgets to drop the entry at checkin: the client's end returns
    the worker a second time, so two clients can then hold it."""

    def init(self, workers):
        return ("ok", {"idle": list(workers), "held": {}, "waiting": []})

    def handle_call(self, request, from_, state):
        gs.monitor(from_[0])
        if state["idle"]:
            worker, *idle = state["idle"]
            return ("reply", worker, {**state, "idle": idle, "held": {**state["held"], from_[0]: worker}})
        return ("noreply", {**state, "waiting": state["waiting"] + [from_]})

    def handle_cast(self, request, state):
        _, worker = request
        return ("noreply", self.give(worker, state))

    def handle_info(self, msg, state):
        match msg:
            case ("DOWN", _ref, "process", pid, _reason) if pid in state["held"]:
                return ("noreply", self.give(state["held"][pid], state))
            case ("DOWN", _ref, "process", pid, _reason):
                return ("noreply", {**state, "waiting": [f for f in state["waiting"] if f[0] != pid]})
        return super().handle_info(msg, state)

    @staticmethod
    def give(worker, state):
        if state["waiting"]:
            from_, *waiting = state["waiting"]
            gs.reply(from_, worker)
            return {**state, "waiting": waiting, "held": {**state["held"], from_[0]: worker}}
        return {**state, "idle": state["idle"] + [worker]}


def failed_checks(cls, capsys):
    return grade_fails("10.1", {"WorkerPool": cls}, capsys)


def test_the_reference_solution_passes_every_check(capsys):
    report = gs.grading.check("10.1", {"WorkerPool": WorkerPool})
    assert (report.passed, report.total) == (6, 6)
    assert capsys.readouterr().out.endswith("6/6 checks passed\n")
    assert report.seconds < 2.0


@pytest.mark.parametrize("cls, failing, why", [
    (RandomCheckout, [IN_ORDER, WAITS, OLDEST_FIRST, CRASHED_HOLDER, DEAD_WAITER, CHECKED_IN],
     "why: a second client's checkout was answered with w1 while every worker was checked out: "
     "it must wait for a checkin"),
    (ForgetsTheQueue, [WAITS, OLDEST_FIRST, CRASHED_HOLDER],
     "why: the waiting client, after w1 was checked in, got no worker within 0.5 s"),
    (NoClientMonitor, [CRASHED_HOLDER, DEAD_WAITER],
     "why: a client waiting when the holder crashed got no worker within 0.5 s"),
    (NewestFirst, [OLDEST_FIRST],
     "why: the first waiting client got no worker within 0.5 s"),
    (IgnoresDeadWaiters, [DEAD_WAITER],
     "why: call 'checkout' got no reply within 1 s"),
    (ClientKeyed, [CHECKED_IN],
     "why: a third checkout, with both workers checked out, was answered with w1"),
])
def test_a_plausible_mistake_fails_the_right_checks_with_their_hints(cls, failing, why, capsys):
    report, out = failed_checks(cls, capsys)
    assert report.failed_titles() == failing
    for title in failing:
        assert f"✗ {title}\n    hint: {HINTS[title]}\n" in out
    assert why in out
    assert out.endswith(f"{6 - len(failing)}/6 checks passed\n")


def test_the_derived_stub_fails_every_check_as_not_implemented(capsys):
    class Stub(gs.GenServer):
        def init(self, workers):
            raise NotImplementedError("return ('ok', state) with the idle workers in order")

    report, out = failed_checks(Stub, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: return ('ok', state) with the idle workers") == 6


def test_a_missing_pool_fails_every_check_naming_it(capsys):
    with pytest.raises(GradingFailed):
        gs.grading.check("10.1", {"gs": gs})
    assert capsys.readouterr().out.count("why: WorkerPool is not defined: run the cell that defines it") == 6
