"""What limits a threaded design in CPython, measured on this machine: ``python -m benchmarks.limits``.

Three facts every figure of the benchmarks sits on, and that no change to
genserver_lite can remove:

* **Threads per process.** Each thread's stack is a memory mapping plus a
  guard page, and the kernel caps mappings per process at
  ``vm.max_map_count``; the cap is reached long before memory runs out.
  Measured in a fresh child: start threads (blocked on a queue, as idle
  servers are) until the OS refuses one.
* **The GIL.** One thread runs Python at a time. A process busy in Python
  code keeps the others waiting up to ``sys.getswitchinterval()`` (5 ms) at
  hand-off, so one CPU-bound callback slows calls all over the system.
  Measured: call latency to an idle server, alone and while another
  process spins.
* **No preemption of C calls.** A kill interrupts a process at its next
  bytecode boundary; one blocked inside a C call (``time.sleep``, a socket
  read) is dead for everyone at once but keeps its thread until the call
  returns. Measured: how long the thread of a killed process lives when it
  was in ``time.sleep(0.3)``, and in ``gs.sleep(0.3)`` (which a kill wakes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import SimpleQueue

__all__ = ["thread_cap", "busy_neighbour", "c_call_kill", "main"]

_ROOT = Path(__file__).resolve().parent.parent


def _count_maps() -> int | None:
    try:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def _thread_cap_here(ceiling: int) -> dict:
    """Start idle daemon threads until the OS refuses (run in a throwaway process)."""
    gate = SimpleQueue()
    threads, error = [], None
    maps_before = _count_maps()
    t0 = time.perf_counter()
    try:
        while len(threads) < ceiling:
            t = threading.Thread(target=gate.get, daemon=True)
            t.start()
            threads.append(t)
    except RuntimeError as e:           # "can't start new thread"
        error = str(e)
    elapsed = time.perf_counter() - t0
    maps_at_cap = _count_maps()
    for _ in threads:
        gate.put(None)
    for t in threads:
        t.join()
    return {"threads": len(threads), "error": error, "maps_before": maps_before,
            "maps_at_cap": maps_at_cap, "seconds": round(elapsed, 1)}


def thread_cap(ceiling: int = 200_000) -> dict:
    """How many threads one process can have here, measured in a fresh child process."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.limits", "--cap-child", str(ceiling)],
                          cwd=_ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the thread-cap child failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for key, path in (("vm.max_map_count", "/proc/sys/vm/max_map_count"),
                      ("kernel.threads-max", "/proc/sys/kernel/threads-max")):
        try:
            out[key] = int(Path(path).read_text())
        except (OSError, ValueError):
            out[key] = None
    return out


def _spin(stop):
    """A process busy in pure Python until ``stop`` is set (runs in its own process)."""
    n = 0
    while not stop.is_set():
        for _ in range(1000):
            n += 1


def busy_neighbour(calls: int = 1000) -> dict:
    """genserver_lite call latency (p50, p99, max; µs), alone and beside a process running Python without pause."""
    import genserver_lite as gs

    from .stats import percentile
    from .systems import Echo

    pid = Echo.start_link()
    out = {}
    try:
        for label in ("alone", "beside a busy process"):
            stop = threading.Event()
            busy = gs.spawn(_spin, stop) if label != "alone" else None
            samples = []
            for i in range(calls):
                t = time.perf_counter_ns()
                gs.call(pid, i)
                samples.append(time.perf_counter_ns() - t)
            stop.set()
            if busy is not None:
                ref = gs.monitor(busy)
                gs.receive(lambda m, ref=ref: type(m) is tuple and m[:2] == ("DOWN", ref), 5.0)
            out[label] = {"p50": percentile(samples, 0.5) / 1e3, "p99": percentile(samples, 0.99) / 1e3,
                          "max": max(samples) / 1e3, "mean": sum(samples) / len(samples) / 1e3}
    finally:
        gs.stop(pid)
    out["switch_interval_ms"] = sys.getswitchinterval() * 1e3
    return out


def c_call_kill(seconds: float = 0.3) -> dict:
    """How long a killed process's thread lives when it was in a C call, and in ``gs.sleep``."""
    import genserver_lite as gs

    out = {}
    for label, nap in (("time.sleep", time.sleep), ("gs.sleep", gs.sleep)):
        started = SimpleQueue()

        def body(nap=nap, started=started):
            started.put(threading.current_thread())
            nap(seconds)

        pid = gs.spawn(body)
        thread = started.get(timeout=5.0)
        time.sleep(0.02)                    # let it enter the sleep (this thread is not a process)
        t0 = time.perf_counter()
        gs.exit(pid, "kill")
        dead_for_all = not gs.alive(pid)
        thread.join(5.0)
        out[label] = {"dead_at_once": dead_for_all,
                      "thread_lived_ms": round((time.perf_counter() - t0) * 1e3, 1)}
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--cap-child"]:
        print(json.dumps(_thread_cap_here(int(argv[1]))))
        return 0
    import genserver_lite as gs
    report = {"c_call_kill": c_call_kill(), "busy_neighbour_call_us": busy_neighbour()}
    gs.reset()
    report["thread_cap"] = thread_cap()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
