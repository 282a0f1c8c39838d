"""``python -m benchmarks [--quick] [--json PATH] [--plot PATH] [--markdown] [--reps N] [--only ROW ...]``.

``python -m benchmarks --combine RUN1.json RUN2.json RUN3.json`` runs nothing:
it judges the targets on the median of those runs' same-run ratios;
``--load RUN.json`` shows a saved run's table (and ``--plot``) again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from . import alive, harness, report, rows, stats, systems

ROWS = {
    "call": rows.row_call,
    "cast": rows.row_cast,
    "start": rows.row_start_stop,
    "alive": alive.row_alive,
    "restart": rows.row_restart,
    "lookup": rows.row_lookup,
    "trace": rows.row_trace,
}


def parse(argv):
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="genserver_lite against bare threads and Pykka, measured side by side in one run.")
    ap.add_argument("--quick", action="store_true",
                    help="smoke mode: tiny sizes, 2 repetitions, a few seconds; the figures mean nothing")
    ap.add_argument("--json", metavar="PATH", help="write every figure as JSON to PATH")
    ap.add_argument("--plot", metavar="PATH", help="write a PNG of the ratios to PATH")
    ap.add_argument("--reps", type=int, metavar="N", help="repetitions (default 5; at least 1)")
    ap.add_argument("--alive", type=int, metavar="N",
                    help="servers alive at once in the scale row (default 10000)")
    ap.add_argument("--only", nargs="+", choices=sorted(ROWS), metavar="ROW",
                    help=f"run only these rows: {', '.join(ROWS)}")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--pin", action="store_true",
                    help="run on one CPU (Linux): every hand-off stays on one core, which takes the "
                         "same-core/cross-core lottery out of the latency figures")
    ap.add_argument("--load", metavar="JSON",
                    help="run nothing; show the table (and --plot) of a run saved with --json")
    ap.add_argument("--combine", nargs="+", metavar="JSON",
                    help="run nothing; judge the targets on the median of these runs (--json files)")
    args = ap.parse_args(argv)
    if args.reps is not None and args.reps < 1:
        ap.error(f"--reps must be at least 1, got {args.reps}")
    if args.alive is not None and args.alive < 1:
        ap.error(f"--alive must be at least 1, got {args.alive}")
    if args.combine and args.load:
        ap.error("--combine and --load each read saved runs: give one of them")
    if args.combine and (args.plot or args.json):
        ap.error("--combine prints a verdict only; plot or save one run with --load RUN.json --plot PATH")
    return args


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.combine:
        docs = []
        for path in args.combine:
            with open(path) as f:
                docs.append(json.load(f))
        print(report.combine(docs, markdown=args.markdown))
        return 0
    if args.load:
        with open(args.load) as f:
            doc = json.load(f)
        verdicts = report.evaluate(harness.Results.from_json(doc))
        print(report.table(verdicts, markdown=args.markdown))
        if args.plot:
            from .plot import plot
            plot(verdicts, args.plot)
            print(f"wrote {args.plot}")
        return 0
    params = harness.QUICK if args.quick else harness.FULL
    if args.reps is not None:
        params = dataclasses.replace(params, reps=args.reps)
    if args.alive is not None:
        params = dataclasses.replace(params, alive=args.alive)
    chosen = [ROWS[name] for name in (args.only or ROWS)]
    if args.pin:
        if not hasattr(os, "sched_setaffinity"):
            print("--pin needs os.sched_setaffinity (Linux)", file=sys.stderr)
            return 2
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # threads and children inherit it
    facts = stats.machine_facts()
    facts["pinned_to_cpu"] = min(os.sched_getaffinity(0)) if args.pin else None
    print(f"genserver_lite {facts['genserver_lite']} vs Pykka {facts['pykka']} vs bare threads; "
          f"Python {facts['python']}, {facts['cpus']} CPUs, load {facts['loadavg']}", file=sys.stderr)
    print(f"{'quick smoke run (figures mean nothing)' if args.quick else 'full run'}"
          f"{', pinned to one CPU' if args.pin else ''}: {params}",
          file=sys.stderr)
    t0 = time.monotonic()
    results = harness.run(params, systems.all_systems(), chosen)
    elapsed = time.monotonic() - t0
    facts["loadavg_after"] = stats.loadavg()
    verdicts = report.evaluate(results)
    print(report.table(verdicts, markdown=args.markdown))
    print(f"{params.reps} repetitions in {elapsed:.0f} s; load average before {facts['loadavg']}, "
          f"after {facts['loadavg_after']}")
    if args.json:
        with open(args.json, "w") as f:
            f.write(report.to_json(verdicts, results, params, facts, elapsed))
        print(f"wrote {args.json}")
    if args.plot:
        from .plot import plot
        plot(verdicts, args.plot, "genserver_lite benchmarks" + (" (quick smoke run)" if args.quick else ""))
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
