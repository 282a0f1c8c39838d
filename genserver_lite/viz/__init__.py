"""Pictures of running systems: sequence diagrams, supervision trees, restart timelines, live panels.

Everything here reads a :class:`~genserver_lite.trace.Trace` or a live
supervisor, and works from a notebook in one line::

    gs.viz.sequence_diagram(t)          # matplotlib figure of a trace
    gs.viz.supervision_tree(sup)        # the tree, status and restart counts
    gs.viz.supervision_mermaid(sup)     # the same tree as Mermaid text
    gs.viz.restart_timeline(t or sup)   # crashes, restarts, intensity window
    gs.viz.SupervisorPanel(sup)         # live tree with kill / crash buttons
    gs.viz.TraceStepper(t)              # step through a trace

Names load lazily: ``import genserver_lite`` imports neither matplotlib nor
ipywidgets; the first use of a figure or a widget does.
"""

from __future__ import annotations

import importlib

__all__ = ["sequence_diagram", "sequence_mermaid", "supervision_tree", "supervision_mermaid",
           "restart_timeline", "SupervisorPanel", "TraceStepper", "message_label"]

_WHERE = {
    "sequence_diagram": "sequence",
    "sequence_mermaid": "mermaid",
    "supervision_tree": "tree",
    "supervision_mermaid": "tree",
    "restart_timeline": "timeline",
    "SupervisorPanel": "widgets",
    "TraceStepper": "widgets",
    "message_label": "labels",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"genserver_lite.viz has no attribute {name!r}; it offers {__all__}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
