"""pytest configuration shared by the notebooks, solutions and exercises.

nbval compares a checked cell's outputs with the stored ones. We compare what
the lesson prints (stdout) and its results, but not stderr: stderr carries
genserver_lite's crash reports, which come from other threads (the process
that crashed) at moments the lesson does not control, and which learners
should still see in the notebook. So stderr streams are dropped before the
comparison, on both sides.
"""

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval is a dependency; without it there is nothing to configure
    IPyNbCell = None

if IPyNbCell is not None and not getattr(IPyNbCell, "_gs_ignores_stderr", False):
    _compare = IPyNbCell.compare_outputs

    def _without_stderr(outputs):
        return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]

    def compare_outputs(self, test, ref, skip_compare=None):
        return _compare(self, _without_stderr(test), _without_stderr(ref), skip_compare)

    IPyNbCell.compare_outputs = compare_outputs
    IPyNbCell._gs_ignores_stderr = True
