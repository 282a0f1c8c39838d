"""The scale row: ``params.alive`` servers alive at once (10,000 in a full run).

Each measurement runs in a fresh interpreter (``python -m benchmarks.alive
SYSTEM N``), because resident memory is not given back to the OS when
threads and objects are freed: measured in the main process, whichever
system went second would reuse the first one's heap and look smaller. The
driver still interleaves the systems repetition by repetition, and runs one
child at a time so each has both cores to itself.

In the child: start and stop one server (first-use costs), collect garbage,
read RSS; start N servers, collect, read RSS again: RSS per server is the
difference over N. Then call each server once, in start order (each round
trip wakes a thread that has slept since it started), timing the whole
sweep. The child prints one JSON object and exits at once (``os._exit``):
stopping the servers is not part of the row, and takes longer than the rest.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .stats import rss_bytes
from .systems import by_name

__all__ = ["row_alive", "measure"]

_ROOT = Path(__file__).resolve().parent.parent


def measure(system_name: str, n: int) -> dict:
    """Start ``n`` servers of one system in this process and measure them; they are left running.

    Run it in a throwaway child process (``python -m benchmarks.alive``).
    """
    s = by_name(system_name)
    s.stop(s.start())
    s.settle()
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    handles = [s.start() for _ in range(n)]
    t1 = time.perf_counter()
    gc.collect()
    rss1 = rss_bytes()
    callers = [s.caller(h) for h in handles]
    t2 = time.perf_counter()
    for i, call in enumerate(callers):
        if call(i) != i:
            raise AssertionError(f"{s.label}: server {i} did not echo its request")
    t3 = time.perf_counter()
    return {"system": system_name, "n": n, "rss_before": rss0, "rss_after": rss1,
            "rss_per_server_kb": (rss1 - rss0) / n / 1024, "start_s": t1 - t0,
            "call_each_us": (t3 - t2) / n * 1e6}


def row_alive(systems, rep, p, res) -> None:
    for s in systems:
        cmd = [sys.executable, "-m", "benchmarks.alive", s.name, str(p.alive)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(_ROOT)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]))
        done = subprocess.run(cmd, cwd=_ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"the {p.alive}-servers child for {s.name} failed "
                               f"(exit {done.returncode}):\n{done.stderr[-3000:]}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        res.put("alive_rss", s.name, rep, out["rss_per_server_kb"])
        res.put("alive_call", s.name, rep, out["call_each_us"])
        res.put("alive_start", s.name, rep, out["start_s"] / p.alive * 1e6)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit() or int(argv[1]) < 1:
        print("usage: python -m benchmarks.alive {bare|pykka|gs} N", file=sys.stderr)
        return 2
    print(json.dumps(measure(argv[0], int(argv[1]))), flush=True)
    os._exit(0)     # a throwaway process: stopping N servers one by one is not measured, skip it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
