"""Delivery-rate sparklines: hourly successes and failures as a small inline SVG.

Each hour is a column: successes stacked from the baseline in green, failures on top in red,
all columns on one scale (the busiest hour fills the height). The picture is decorative for
screen readers (`aria-hidden`); `sparkline_text` is the same in words, to sit next to it.
Only presentation attributes are used, so the page's CSP (no inline styles) holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

OK_COLOUR = "#17693a"
BAD_COLOUR = "#b3261e"
EMPTY_COLOUR = "#d7dbe3"
BAR = 5  # px per hour
GAP = 1
HEIGHT = 28


def sparkline_svg(succeeded: Sequence[int], failed: Sequence[int]) -> Markup:
    """The columns for `succeeded[i]` and `failed[i]` (same length, oldest first)."""
    if len(succeeded) != len(failed):
        raise ValueError("succeeded and failed must have one count per hour each")
    hours = len(succeeded)
    width = max(1, hours * (BAR + GAP) - GAP)
    peak = max((s + f for s, f in zip(succeeded, failed, strict=True)), default=0)
    shapes = [
        f'<line x1="0" y1="{HEIGHT - 0.5}" x2="{width}" y2="{HEIGHT - 0.5}" '
        f'stroke="{EMPTY_COLOUR}" stroke-width="1"/>'
    ]
    for i, (good, bad) in enumerate(zip(succeeded, failed, strict=True)):
        x = i * (BAR + GAP)
        good_h = _height(good, peak)
        bad_h = _height(bad, peak)
        if good_h:
            shapes.append(_rect(x, HEIGHT - good_h, good_h, OK_COLOUR, "ok"))
        if bad_h:
            shapes.append(_rect(x, HEIGHT - good_h - bad_h, bad_h, BAD_COLOUR, "failed"))
    return Markup(
        f'<svg class="sparkline" width="{width}" '
        f'height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" aria-hidden="true" focusable="false">'
        + "".join(shapes)
        + "</svg>"
    )


def sparkline_text(succeeded: Sequence[int], failed: Sequence[int]) -> str:
    """The sparkline in words: totals over the period, and how the last hour went."""
    hours = len(succeeded)
    good, bad = sum(succeeded), sum(failed)
    if good + bad == 0:
        return f"no attempts in the last {hours} hours"
    text = f"last {hours} hours: {good} delivered, {bad} failed"
    if succeeded and (succeeded[-1] or failed[-1]):
        text += f"; this hour {succeeded[-1]} delivered, {failed[-1]} failed"
    return text


def _height(count: int, peak: int) -> int:
    """Bar height in whole pixels; any non-zero count shows at least one pixel."""
    if count <= 0 or peak <= 0:
        return 0
    return max(1, round(count / peak * (HEIGHT - 1)))


def _rect(x: int, y: int, height: int, colour: str, kind: str) -> str:
    return f'<rect class="{kind}" x="{x}" y="{y}" width="{BAR}" height="{height}" fill="{colour}"/>'
