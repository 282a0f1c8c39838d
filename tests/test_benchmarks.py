"""The benchmarks run: ``python -m benchmarks --quick`` works end to end (nothing here asserts speed).

The smoke run's figures mean nothing (tiny sizes on a shared machine), so
these tests check that every row produced a figure, that the JSON, the
table and the plot are well formed, and that the target logic judges
ratios correctly on made-up results.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:       # `benchmarks` is run from the checkout, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import report, stats  # noqa: E402
from benchmarks.harness import Results  # noqa: E402


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out / "run.json"),
         "--plot", str(out / "run.png")],
        cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads((out / "run.json").read_text()), out / "run.png"


def test_quick_run_measures_every_metric(quick_run):
    _, doc, _ = quick_run
    got = {m["key"]: m for m in doc["metrics"]}
    assert set(got) == {m.key for m in report.METRICS}
    for key in ("call_p50", "call_p99", "call_cpu", "cast_rate", "cast_cpu", "start_cpu",
                "stop_cpu", "alive_rss", "alive_call", "lookup"):
        for system in ("bare", "pykka", "gs"):
            values = got[key]["values"][system]
            assert len(values) == doc["params"]["reps"] >= 2
            assert all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in values), \
                (key, system, values)
        assert got[key]["ratios"]["bare"] > 0 and got[key]["ratios"]["pykka"] > 0
    for key in ("restart", "restart_quiet", "trace_on", "trace_off"):   # genserver_lite only
        assert all(v > 0 for v in got[key]["values"]["gs"]), key
        assert got[key]["values"]["pykka"] == [None] * doc["params"]["reps"]
    assert got["restart"]["ratios"]["call_p50"] > 0
    assert doc["machine"]["cpus"] >= 1 and doc["machine"]["pykka"].startswith("4.")


def test_quick_run_prints_the_table_and_judges_every_target(quick_run):
    done, doc, _ = quick_run
    for m in report.METRICS:
        assert m.label in done.stdout
    verdicts = {m["key"]: m for m in doc["metrics"]}
    for m in report.METRICS:
        assert len(verdicts[m.key]["targets"]) == len(m.targets)
        for t in verdicts[m.key]["targets"]:
            assert t["pass"] in (True, False), (m.key, t)   # every target could be judged
    assert doc["failed"] == [k for k, v in verdicts.items() if v["pass"] is False]


def test_quick_run_writes_a_png(quick_run):
    *_, png = quick_run
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_combine_judges_the_median_of_runs(quick_run, tmp_path):
    _, doc, _ = quick_run
    runs = []
    for i, scale in enumerate((0.5, 1.0, 100.0)):       # one wild run must not decide
        d = json.loads(json.dumps(doc))
        for m in d["metrics"]:
            if m["key"] == "call_p50":
                m["ratios"]["bare"] = 1.2 * scale
        path = tmp_path / f"run{i}.json"
        path.write_text(json.dumps(d))
        runs.append(str(path))
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--combine", *runs],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("call p50") and "bare" in x)
    assert "0.60×" in line and "1.20×" in line and "120.00×" in line and line.rstrip().endswith("PASS")


def test_bad_arguments_are_refused():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--reps", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--reps must be at least 1, got 0" in done.stderr
    done = subprocess.run([sys.executable, "-m", "benchmarks.alive", "gs", "ten"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage" in done.stderr
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--combine", "a.json", "--plot", "x.png"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--combine prints a verdict only" in done.stderr   # not ignored
    with pytest.raises(ValueError, match="unknown system 'erlang'"):
        from benchmarks.systems import by_name
        by_name("erlang")


def test_percentile_is_nearest_rank():
    xs = list(range(1, 101))
    assert stats.percentile(xs, 0.50) == 50
    assert stats.percentile(xs, 0.99) == 99
    assert stats.percentile(xs, 1.0) == 100
    assert stats.percentile([7], 0.99) == 7
    with pytest.raises(ValueError, match="empty"):
        stats.percentile([], 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        stats.percentile(xs, 99)


def test_ratios_are_paired_by_repetition():
    # gs is 2x bare in every repetition, though the machine slowed down 10x in the middle
    gs_vals, bare = [2.0, 20.0, 2.2], [1.0, 10.0, 1.1]
    assert stats.median_ratio(gs_vals, bare) == pytest.approx(2.0)
    assert stats.median_ratio([1.0, None, 3.0], [1.0, 1.0, 1.0]) == 2.0
    assert stats.median_ratio([None], [1.0]) is None


def _results(metric, gs_vals, bare, pykka):
    r = Results(reps=len(gs_vals), systems=["bare", "pykka", "gs"])
    for i in range(len(gs_vals)):
        r.put(metric, "gs", i, gs_vals[i])
        r.put(metric, "bare", i, bare[i])
        r.put(metric, "pykka", i, pykka[i])
    return r


def test_targets_pass_and_fail_on_the_ratio():
    (v,) = report.evaluate(_results("call_p50", [14, 15, 16], [10, 10, 10], [25, 25, 25]))
    assert [(text, ok) for text, _, ok in v.checks] == [("≤ 1.5× bare", True), ("ahead of pykka", True)]
    (v,) = report.evaluate(_results("call_p50", [16, 16, 16], [10, 10, 10], [15, 15, 15]))
    assert [ok for *_, ok in v.checks] == [False, False] and v.passed is False
    # throughput: higher is better, and the target is a floor
    (v,) = report.evaluate(_results("cast_rate", [1000, 1000], [5000, 5000], [400, 600]))
    assert v.checks[0][0] == "≥ 2× pykka" and v.checks[0][2] is True
    (v,) = report.evaluate(_results("cast_rate", [1000, 1000], [5000, 5000], [600, 600]))
    assert v.checks[0][2] is False


def test_a_missing_module_reads_not_available():
    r = Results(reps=2, systems=["bare", "pykka", "gs"])
    r.note("restart", "n/a (module missing)")
    (v,) = report.evaluate(r)
    assert v.passed is None and v.checks[0][2] is None
    assert "n/a (module missing)" in report.table([v])


def test_a_saved_run_loads_back_to_the_same_table(quick_run, tmp_path):
    done, doc, _ = quick_run
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    again = subprocess.run([sys.executable, "-m", "benchmarks", "--load", str(path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert again.returncode == 0, again.stderr
    table = done.stdout.split("\n\n")[0]          # the run's own table, before its summary lines
    assert again.stdout.startswith(table)


def test_a_module_not_written_yet_is_reported_missing_not_fatal():
    from benchmarks.systems import feature
    import genserver_lite as gs
    assert feature("no_such_module_yet", "Thing") is None
    assert feature("supervisor", "Supervisor") is gs.Supervisor
    tracer = feature("trace", "trace")          # the function, even where gs.trace is the submodule
    assert callable(tracer) and not isinstance(tracer, type(gs))
