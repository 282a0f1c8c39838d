"""Mermaid text: a trace as a ``sequenceDiagram``, a supervision tree as a ``flowchart`` (Kino.Process's output format).

JupyterLab renders ``text/vnd.mermaid`` natively, and Mermaid text is plain
text, so a notebook (and nbval) can compare it run after run. The text is
deterministic: it holds names, labels and order, never pids or times.

Arrows, one per traced message (the same count as the matplotlib figure):

=============================  ==========  =====================================
kind                           arrow       notes
=============================  ==========  =====================================
call, ``gs.sys`` request       ``->>``     ``+`` activates the callee when it answers
reply, start ack               ``-->>``    ``-`` ends the activation
cast, info                     ``-)``      asynchronous
timer                          ``--)``     sent by the timer on behalf of its owner
EXIT, DOWN, killing signal     ``-x``      crash paths (red boxes mark crashes)
dropped or lost message        ``--x``     a reply nobody waited for any more
=============================  ==========  =====================================

Spawns, links, monitors, exits, timeouts and supervisor events are notes.
This module imports no matplotlib.
"""

from __future__ import annotations

import re

from .model import Message, Note, Signal, child_id_text, model_of

__all__ = ["sequence_mermaid", "tree_mermaid", "escape"]

_RESERVED = {"end", "loop", "alt", "else", "opt", "par", "and", "rect", "note", "critical",
             "break", "box", "participant", "actor", "activate", "deactivate", "create",
             "destroy", "autonumber", "title", "over", "left", "right", "of", "as", "links",
             "link", "properties", "details", "graph", "flowchart", "subgraph", "class",
             "classdef", "style", "click", "call", "href", "default", "linkstyle"}

_ESCAPES = {";": "#59;", "#": "#35;", "<": "#lt;", ">": "#gt;", "%": "#37;", '"': "#quot;"}
_ESC_RE = re.compile(r"[#;<>\"]|%(?=%)")


def escape(text: str) -> str:
    """Text made safe inside a Mermaid label: ``#`` (a sequence diagram reads a bare ``#`` as the
    start of a comment, so ``Stack#1`` would show as ``Stack``), ``;``, ``<``, ``>`` and quotes, as
    Mermaid's ``#code;`` entities."""
    return _ESC_RE.sub(lambda m: _ESCAPES[m.group(0)], " ".join(str(text).split()))


def _ident(name: str, used: set) -> str:
    base = re.sub(r"\W", "_", name, flags=re.ASCII).strip("_") or "p"
    if base[0].isdigit() or base.lower() in _RESERVED:
        base = "p_" + base
    ident, n = base, 2
    while ident in used:
        ident, n = f"{base}_{n}", n + 1
    used.add(ident)
    return ident


_ARROWS = {"call": "->>", "reply": "-->>", "result": "-->>", "cast": "-)", "info": "-)",
           "timer": "--)", "exit": "-x", "down": "-x"}


def _arrow(m: Message) -> str:
    if m.dropped or m.lost:
        return "--x"
    if m.kind == "system":
        return "->>" if m.is_request else "-->>"
    return _ARROWS.get(m.kind, "-)")


def _activations(model) -> tuple[set, set]:
    """Calls that activate their callee, and the replies that end it (same process, later row)."""
    up, down = set(), set()
    for m in model.messages:
        p = m.pair
        if m.is_request and p is not None and p.sender is m.receiver and p.row > m.row:
            up.add(m)
            down.add(p)
    return up, down


def sequence_mermaid(trace_or_model) -> str:
    """A trace as Mermaid ``sequenceDiagram`` text (the same content as :func:`sequence_diagram`)."""
    model = model_of(trace_or_model)
    used: set = set()
    ids = {}
    lines = ["sequenceDiagram"]
    for pid, name in zip(model.pids, model.participants):
        ident = _ident(name, used)
        ids[pid] = ident
        lines.append(f"    participant {ident}" if ident == name
                     else f"    participant {ident} as {escape(name)}")
    up, down = _activations(model)
    for item in model.items:
        if type(item) is Message:
            flag = "+" if item in up else "-" if item in down else ""
            lines.append(f"    {ids[item.sender]}{_arrow(item)}{flag}{ids[item.receiver]}: "
                         f"{escape(item.label)}")
        elif type(item) is Signal:
            lines.append(f"    {ids[item.sender]}{'--x' if item.effect == 'ignored' else '-x'}"
                         f"{ids[item.receiver]}: {escape(item.label)}")
        else:
            over = ",".join(ids[p] for p in item.over if p in ids)
            note = f"Note over {over}: {escape(item.text)}"
            if item.style in ("crash", "sup_alert", "timeout"):
                colour = "rgb(255, 228, 225)" if item.style != "timeout" else "rgb(255, 243, 205)"
                lines += [f"    rect {colour}", f"        {note}", "    end"]
            else:
                lines.append(f"    {note}")
    if model.trace.overflow:
        first = ids[model.pids[0]] if model.pids else None
        if first is not None:
            lines.append(f"    Note over {first}: {model.trace.overflow} more events over the "
                         f"trace's limit")
    return "\n".join(lines) + "\n"


# -- supervision trees -----------------------------------------------------------------------

_STATUS_CLASS = {"running": "running", "restarting": "restarting", "terminated": "terminated",
                 "ignored": "ignored"}


def tree_mermaid(tree: dict) -> str:
    """A supervision tree (``viz.tree.snapshot`` output) as a Mermaid ``flowchart TD``.

    A supervisor's box shows its name, kind and strategy and its restarts in
    the intensity window; a child's box its id, status and restart count.
    Boxes are coloured by status (classDef ``running``, ``restarting``,
    ``terminated``, ``ignored``, ``supervisor``).
    """
    lines = ["flowchart TD"]
    counter = iter(range(1, 1_000_000))

    def sup_box(node: dict) -> str:
        ident = f"s{next(counter)}"
        title = node.get("name") or node.get("module") or node.get("kind")
        lines.append(f'    {ident}["{escape(title)}<br/>{escape(node["kind"])} · '
                     f'{escape(node["strategy"])}<br/>restarts '
                     f'{len(node["restarts"])}/{node["max_restarts"]} in {node["max_seconds"]:g} s"]')
        lines.append(f"    class {ident} supervisor")
        for child in node["children"]:
            sub = child.get("tree")
            if sub is not None:
                cid = sup_box(sub)
                lines.append(f'    {ident} --- {cid}')
                if child["status"] != "running":
                    lines.append(f"    class {cid} {_STATUS_CLASS.get(child['status'], 'terminated')}")
                continue
            cid = f"c{next(counter)}"
            label = child_id_text(child["id"])
            if child.get("name") and child["name"] != label:
                label += f" ({child['name']})"
            extra = f"<br/>↻ {child['restarts']}" if child["restarts"] else ""
            lines.append(f'    {cid}["{escape(label)}<br/>{child["status"]}{extra}"]')
            lines.append(f"    {ident} --- {cid}")
            lines.append(f"    class {cid} {_STATUS_CLASS.get(child['status'], 'terminated')}")
        return ident

    sup_box(tree)
    lines += [
        "    classDef supervisor fill:#dbe8ff,stroke:#3b5b9a,stroke-width:2px",
        "    classDef running fill:#d9f2d9,stroke:#2e7d32",
        "    classDef restarting fill:#ffe0b2,stroke:#e65100,stroke-dasharray:4 2",
        "    classDef terminated fill:#eeeeee,stroke:#9e9e9e,color:#616161",
        "    classDef ignored fill:#fafafa,stroke:#bdbdbd,stroke-dasharray:2 2,color:#9e9e9e",
    ]
    return "\n".join(lines) + "\n"
