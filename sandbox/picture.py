"""The game day as a picture: one self-contained HTML file, for people who would rather look than read.

Written at the end of every game day (its path is printed): the readiness grades before the outage, then a
timeline in inline SVG (each zone's state as the detector called it, each runbook execution, each pet's move
with its RPO and time to Running), the pets and federated apps before and after, and the readiness report's
own words. Nothing is fetched: no script, no style sheet, no font, no image from anywhere; no script at all.

Everything drawn comes from what the game day already holds: the timeline's happenings (the detector's
transitions and the runbooks' starts and ends, as the report printed them), the executions' reports (each pet's
move) and the before and after pictures.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRADE_COLOURS = {"ready": "#2e7d32", "at-risk": "#f9a825", "not-ready": "#c62828"}
STATE_COLOURS = {
    "healthy": "#a5d6a7",
    "suspect": "#fff59d",
    "impaired": "#ef9a9a",
    "recovering": "#90caf9",
}
_TRANSITION = re.compile(r"^detector: (?P<zone>[a-z]{2}(?:-[a-z]+)+-\d[a-z]) (?P<old>[a-z]+) -> (?P<new>[a-z]+)")
_STARTED = re.compile(r"Step Functions: ferry-(?P<runbook>\w+) started (?P<name>\S+)")
_ENDED = re.compile(r"Step Functions: (?P<name>\S+) (?P<status>SUCCEEDED|FAILED|TIMED_OUT|ABORTED)")
WIDTH, LANE, LEFT = 960, 28, 190


@dataclass(frozen=True, slots=True)
class Moment:
    at: float
    actor: str
    text: str


def _zone_segments(
    zones: Sequence[str], moments: Iterable[Moment], end: float
) -> dict[str, list[tuple[float, float, str]]]:
    current = dict.fromkeys(zones, (0.0, "healthy"))
    segments: dict[str, list[tuple[float, float, str]]] = {zone: [] for zone in zones}
    for moment in moments:
        match = _TRANSITION.match(moment.text)
        if match and match["zone"] in current:
            since, state = current[match["zone"]]
            segments[match["zone"]].append((since, moment.at, state))
            current[match["zone"]] = (moment.at, match["new"])
    for zone, (since, state) in current.items():
        segments[zone].append((since, end, state))
    return segments


def _runs(moments: Iterable[Moment], end: float) -> list[tuple[str, str, float, float, str]]:
    started: dict[str, tuple[str, float]] = {}
    runs = []
    for moment in moments:
        if (match := _STARTED.search(moment.text)) is not None:
            started[match["name"]] = (match["runbook"], moment.at)
        elif (match := _ENDED.search(moment.text)) is not None and match["name"] in started:
            runbook, since = started.pop(match["name"])
            runs.append((runbook, match["name"], since, moment.at, match["status"]))
    runs += [(runbook, name, since, end, "RUNNING") for name, (runbook, since) in started.items()]
    return runs


def render(
    *,
    title: str,
    zones: Sequence[str],
    readiness: Mapping[str, Any] | None,
    moments: Sequence[Moment],
    end: float,
    moves: Sequence[Mapping[str, Any]],
    pets_before: Sequence[tuple[str, str]],
    pets_after: Sequence[tuple[str, str]],
    apps_before: Sequence[tuple[str, str, int]],
    apps_after: Sequence[tuple[str, str, int]],
) -> str:
    """The page. `moves`: the runbooks' pet reports (cluster, namespace, pod, fromZone, toZone, rpoSeconds,
    timeToRunningSeconds); pets as (pet, zone); apps as (app, cluster, replicas)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}"
        ".grade{display:inline-block;color:#fff;padding:6px 12px;margin:4px;border-radius:4px}"
        "pre{background:#f6f6f6;padding:8px;font-size:12px;white-space:pre-wrap}</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
        "<h2>Readiness before the outage</h2>",
    ]
    answered = {z["zone"]: z for z in (readiness or {}).get("zones", [])}
    for zone in zones:
        grade = answered.get(zone, {}).get("grade", "unknown")
        colour = GRADE_COLOURS.get(grade, "#757575")
        parts.append(
            f'<span class="grade" style="background:{colour}" data-zone="{e(zone)}">{e(zone)}: {e(grade)}</span>'
        )
    said = [
        (p["subject"], zone, p["outcome"], p.get("targetZone") or "")
        for zone, answer in answered.items()
        for p in answer.get("pets", [])
    ]
    if said:
        parts.append("<table><tr><th>pet</th><th>if this zone failed</th><th>outcome</th><th>to</th></tr>")
        parts += [f"<tr><td>{e(s)}</td><td>{e(z)}</td><td>{e(o)}</td><td>{e(t)}</td></tr>" for s, z, o, t in said]
        parts.append("</table>")
    parts.append("<h2>Timeline</h2>")
    parts.append(_svg(zones, moments, end, moves))
    parts.append("<h2>Pets</h2><table><tr><th>pet</th><th>zone before</th><th>zone after</th></tr>")
    after = dict(pets_after)
    parts += [f"<tr><td>{e(p)}</td><td>{e(z)}</td><td>{e(after.get(p, '-'))}</td></tr>" for p, z in pets_before]
    parts.append("</table>")
    if apps_before or apps_after:
        parts.append("<h2>Federated apps</h2><table><tr><th>app</th><th>cluster</th><th>before</th><th>after</th></tr>")
        later = {(a, c): n for a, c, n in apps_after}
        parts += [
            f"<tr><td>{e(a)}</td><td>{e(c)}</td><td>{n}</td><td>{later.get((a, c), '-')}</td></tr>"
            for a, c, n in apps_before
        ]
        parts.append("</table>")
    if readiness:
        parts.append(f"<h2>The readiness report</h2><pre>{e(str(readiness.get('summary', '')))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _svg(zones: Sequence[str], moments: Sequence[Moment], end: float, moves: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    span = max(end, 1.0)

    def x(at: float) -> float:
        return LEFT + (WIDTH - LEFT - 10) * max(0.0, min(at, span)) / span

    runs = _runs(moments, end)
    lanes = len(zones) + len(runs) + len(moves) + 1
    height = LANE * lanes + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img">']
    row = 0
    for zone, segments in _zone_segments(zones, moments, end).items():
        y = row * LANE + 4
        out.append(f'<text x="4" y="{y + 16}" font-size="12">zone {e(zone)}</text>')
        for since, until, state in segments:
            colour = STATE_COLOURS.get(state, "#e0e0e0")
            out.append(
                f'<rect x="{x(since):.1f}" y="{y}" width="{max(1.0, x(until) - x(since)):.1f}" height="{LANE - 8}" '
                f'fill="{colour}"><title>{e(zone)} {e(state)} from t+{since:.0f}s</title></rect>'
            )
            if x(until) - x(since) > 60:
                out.append(f'<text x="{x(since) + 4:.1f}" y="{y + 15}" font-size="11">{e(state)}</text>')
        row += 1
    for runbook, name, since, until, status in runs:
        y = row * LANE + 4
        out.append(f'<text x="4" y="{y + 16}" font-size="12">{e(runbook)}</text>')
        out.append(
            f'<rect x="{x(since):.1f}" y="{y}" width="{max(2.0, x(until) - x(since)):.1f}" height="{LANE - 8}" '
            f'fill="#7e57c2"><title>{e(name)}: {e(status)}, t+{since:.0f}s to t+{until:.0f}s</title></rect>'
        )
        row += 1
    for move in moves:
        y = row * LANE + 4
        pet = f"{move.get('cluster')}/{move.get('namespace')}/{move.get('pod')}"
        rpo, running = move.get("rpoSeconds"), move.get("timeToRunningSeconds")
        label = f"{pet}: {move.get('fromZone')} -> {move.get('toZone')}"
        detail = f"RPO {rpo:.0f}s" if isinstance(rpo, int | float) else "RPO -"
        detail += f", Running after {running:.0f}s" if isinstance(running, int | float) else ""
        out.append(f'<text x="4" y="{y + 16}" font-size="11">{e(str(move.get("pod")))}</text>')
        out.append(f'<text x="{LEFT}" y="{y + 16}" font-size="12" data-pet="{e(pet)}">{e(label)} ({e(detail)})</text>')
        row += 1
    axis = row * LANE + 12
    out.append(f'<line x1="{LEFT}" y1="{axis}" x2="{WIDTH - 10}" y2="{axis}" stroke="#555"/>')
    for tick in range(0, int(span) + 1, max(30, int(span) // 8 // 30 * 30 or 30)):
        out.append(f'<text x="{x(tick):.1f}" y="{axis + 14}" font-size="10">t+{tick // 60}:{tick % 60:02d}</text>')
    out.append("</svg>")
    return "\n".join(out)


def write(path: Path, page: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
