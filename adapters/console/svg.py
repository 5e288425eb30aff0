"""Charts drawn on the server as inline SVG: a limit's use as a bar, and a policy
year's remaining limit over recorded time as a step chart whose payout and
reversal points link to their claims. Each chart carries its own text
alternative; the pages show the same figures in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

PAID, REMAINING, REVERSAL, LINE, GRID = "#b4462b", "#d9e6d3", "#2f7d32", "#1f4e79", "#c8c8c8"


def bar(paid: int, limit: int, text: str) -> Markup:
    """How much of ``limit`` is paid, as a horizontal bar."""
    share = 0.0 if limit <= 0 else min(max(paid / limit, 0.0), 1.0)
    return Markup(
        '<svg class="bar" role="img" aria-label="{t}" width="100%" height="14">'
        "<title>{t}</title>"
        '<rect x="0" y="0" width="100%" height="14" fill="{rest}"/>'
        '<rect x="0" y="0" width="{w:.2f}%" height="14" fill="{paid}"/></svg>'
    ).format(t=text, rest=REMAINING, paid=PAID, w=share * 100)


@dataclass(frozen=True)
class Point:
    """A change of the remaining limit: a payout (drawn) or a reversal (restored)."""

    at: datetime
    remaining: int
    reversal: bool
    href: str
    text: str


WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 92, 12, 12, 34


def step_chart(start: datetime, end: datetime, limit: int, points: list[Point],
               text: str, axis: tuple[str, str], money: list[tuple[int, str]]) -> Markup:
    """The remaining limit from ``start`` (the full ``limit``) to ``end``, one step
    per point. ``axis`` labels the two ends of the time axis; ``money`` gives the
    remaining-limit values to mark on the vertical axis with their labels."""
    span = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + plot_w * min(max((at - start).total_seconds() / span, 0.0), 1.0)

    def y(amount: int) -> float:
        return TOP + plot_h * (1 - (amount / limit if limit > 0 else 0.0))

    parts = [Markup(
        '<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {h}" '
        'width="100%" preserveAspectRatio="xMinYMin meet"><title>{t}</title>'
    ).format(t=text, w=WIDTH, h=HEIGHT)]
    for amount, label in money:
        parts.append(Markup(
            '<line x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}" stroke="{g}"/>'
            '<text x="{tx}" y="{ty:.1f}" text-anchor="end" font-size="11">{label}</text>'
        ).format(l=LEFT, r=WIDTH - RIGHT, y=y(amount), g=GRID, tx=LEFT - 4,
                 ty=y(amount) + 4, label=label))
    for anchor, px, label in (("start", LEFT, axis[0]), ("end", WIDTH - RIGHT, axis[1])):
        parts.append(Markup(
            '<text x="{x}" y="{y}" text-anchor="{a}" font-size="11">{label}</text>'
        ).format(x=px, y=HEIGHT - 10, a=anchor, label=label))
    path = f"M{x(start):.1f},{y(limit):.1f}"
    for p in points:
        path += f" H{x(p.at):.1f} V{y(p.remaining):.1f}"
    path += f" H{x(end):.1f}"
    parts.append(Markup('<path d="{d}" fill="none" stroke="{c}" stroke-width="2"/>').format(
        d=path, c=LINE))
    for p in points:
        shape = (Markup('<rect x="{x:.1f}" y="{y:.1f}" width="10" height="10" fill="{c}"/>')
                 .format(x=x(p.at) - 5, y=y(p.remaining) - 5, c=REVERSAL) if p.reversal
                 else Markup('<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{c}"/>')
                 .format(x=x(p.at), y=y(p.remaining), c=PAID))
        parts.append(Markup('<a href="{h}" aria-label="{t}"><title>{t}</title>{s}</a>').format(
            h=p.href, t=p.text, s=shape))
    parts.append(Markup("</svg>"))
    return Markup("").join(escape(p) for p in parts)
