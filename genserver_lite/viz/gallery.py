"""Every picture the course draws, from real runs, written as PNG files: ``python -m genserver_lite.viz.gallery OUTDIR``.

It runs the scenarios of :mod:`.scenarios` (and a nested supervision tree)
and writes one PNG per picture, plus the Mermaid texts (``.mmd``) and the
widgets' state as an HTML page (``widgets.html``, open it in a browser), so
a person can look at all of them in one folder. It prints what it wrote.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import names
from ..process import monitor
from ..testing import FakeClock, assert_receive, wait_until
from . import scenarios as sc
from .sequence import page_count, sequence_diagram
from .style import png
from .timeline import restart_timeline
from .tree import supervision_mermaid, supervision_tree

__all__ = ["main", "write_gallery"]


def _nested_app():
    """A tree two levels deep, one child restarted, one terminated, a dynamic supervisor with children."""
    from ..dynamic_supervisor import DynamicSupervisor
    from ..specs import supervise
    from ..supervisor import Supervisor

    class Workers(Supervisor):
        def init(self, _arg):
            return supervise([sc.A, sc.B, sc.C], strategy="rest_for_one")

    class Sessions(DynamicSupervisor):
        def init(self, _arg):
            return DynamicSupervisor.flags(max_children=10)

    app = Supervisor.start_link([sc.Stack, Workers, Sessions,
                                 {"id": "cache", "start": (sc.Stack.start_link, ([],))}],
                                strategy="one_for_one", name="app")
    kids = {c[0]: c[1] for c in Supervisor.which_children(app)}
    for items in ([1], [2]):
        DynamicSupervisor.start_child(kids[Sessions], (sc.Stack, items))
    workers = {c[0]: c[1] for c in Supervisor.which_children(kids[Workers])}
    ref = monitor(workers[sc.B])
    from ..gen import cast
    cast(workers[sc.B], "boom")
    assert_receive(("DOWN", ref, "process", ..., ...), 2.0)
    wait_until(lambda: all(type(c[1]).__name__ == "Pid"
                           for c in Supervisor.which_children(kids[Workers])), 2.0)
    Supervisor.terminate_child(app, "cache")
    return app


def write_gallery(outdir) -> list[Path]:
    """Run every scenario and write its pictures into ``outdir``; returns the paths written."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(name: str, fig_or_text) -> None:
        path = out / name
        if isinstance(fig_or_text, str):
            path.write_text(fig_or_text)
        else:
            path.write_bytes(png(fig_or_text))
        written.append(path)

    for name in ("call_and_cast", "deferred_reply", "timeout", "crash_restart"):
        names.reset()
        t = getattr(sc, name)()
        save(f"sequence_{name}.png", sequence_diagram(t))
        save(f"sequence_{name}.mmd", t.to_mermaid())
    names.reset()
    t, sup = sc.one_for_all()
    save("sequence_one_for_all.png", sequence_diagram(t))
    save("sequence_one_for_all.mmd", t.to_mermaid())
    save("tree_one_for_all.png", supervision_tree(sup))
    save("tree_one_for_all.mmd", supervision_mermaid(sup))
    save("timeline_one_for_all_live.png", restart_timeline(sup))
    save("timeline_one_for_all_trace.png", restart_timeline(t))
    names.reset()
    t = sc.many_messages(60)
    for page in range(1, page_count(t) + 1):
        save(f"sequence_60_messages_page{page}.png", sequence_diagram(t, page=page))
    steps = sorted({i.seq for i in t.model.items})
    save("stepper_frame.png", sequence_diagram(t, highlight=steps[len(steps) // 3]))
    names.reset()
    with FakeClock() as clock:
        t = sc.restart_storm(clock)
    save("sequence_restart_storm_page1.png", sequence_diagram(t))
    save("timeline_restart_storm.png", restart_timeline(t, limits={"sup": (3, 5.0)}))
    names.reset()
    app = _nested_app()
    save("tree_nested.png", supervision_tree(app))
    save("tree_nested.mmd", supervision_mermaid(app))
    save("timeline_nested_live.png", restart_timeline(app))
    written.append(_widgets_page(out, app))
    names.reset()
    return written


def _widgets_page(out: Path, app) -> Path:
    """The panel and a stepper as a static HTML page (ipywidgets' embed), to open in a browser."""
    from ipywidgets.embed import embed_minimal_html
    from .widgets import SupervisorPanel, TraceStepper
    panel = SupervisorPanel(app)
    try:
        path = out / "widgets.html"
        from ..supervisor import Supervisor
        workers = next(c[1] for c in Supervisor.which_children(app) if c[0].__name__ == "Workers")
        before = panel.rows.get(("Workers", sc.A), {}).get("restarts", 0)
        panel.crash(workers, sc.A)
        wait_until(lambda: panel.rows.get(("Workers", sc.C), {}).get("restarts", 0) > before, 2.0)
        stepper = TraceStepper(sc.call_and_cast())
        stepper.slider.value = 4
        embed_minimal_html(path, views=[panel, stepper], title="genserver_lite widgets")
        stepper.close()
        return path
    finally:
        panel.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genserver_lite.viz.gallery",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="folder to write the pictures into (created if missing)")
    args = parser.parse_args(argv)
    from ..course import silenced
    with silenced():                     # the crashes are on purpose
        paths = write_gallery(args.outdir)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
