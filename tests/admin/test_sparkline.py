"""The delivery-rate sparkline: one column per hour on a shared scale, failures stacked on
successes, nothing styled inline, and the same facts in words."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pimhub.admin.sparkline import (
    BAD_COLOUR,
    BAR,
    GAP,
    HEIGHT,
    OK_COLOUR,
    sparkline_svg,
    sparkline_text,
)


def rects(svg: str) -> list[dict[str, str]]:
    root = ET.fromstring(svg)
    return [dict(r.attrib) for r in root.iter("rect")]


def test_an_empty_series_draws_only_the_baseline() -> None:
    svg = str(sparkline_svg([0] * 24, [0] * 24))
    assert rects(svg) == []
    root = ET.fromstring(svg)
    assert root.get("width") == str(24 * (BAR + GAP) - GAP)
    assert root.get("aria-hidden") == "true"
    assert sparkline_text([0] * 24, [0] * 24) == "no attempts in the last 24 hours"


def test_no_hours_at_all_is_still_an_svg() -> None:
    svg = str(sparkline_svg([], []))
    assert ET.fromstring(svg).get("width") == "1"
    assert sparkline_text([], []) == "no attempts in the last 0 hours"


def test_all_failures_are_red_columns_at_full_height_for_the_peak() -> None:
    failed = [0, 2, 4]
    shapes = rects(str(sparkline_svg([0, 0, 0], failed)))
    assert [r["fill"] for r in shapes] == [BAD_COLOUR, BAD_COLOUR]
    assert [r["class"] for r in shapes] == ["failed", "failed"]
    heights = [int(r["height"]) for r in shapes]
    assert heights == [round(2 / 4 * (HEIGHT - 1)), HEIGHT - 1]
    assert [int(r["x"]) for r in shapes] == [1 * (BAR + GAP), 2 * (BAR + GAP)]
    assert sparkline_text([0, 0, 0], failed) == (
        "last 3 hours: 0 delivered, 6 failed; this hour 0 delivered, 4 failed"
    )


def test_one_scale_for_all_columns_with_failures_stacked_on_successes() -> None:
    shapes = rects(str(sparkline_svg([100, 10], [0, 90])))
    ok_big, ok_small, bad = shapes
    assert (ok_big["fill"], ok_small["fill"], bad["fill"]) == (OK_COLOUR, OK_COLOUR, BAD_COLOUR)
    assert int(ok_big["height"]) == HEIGHT - 1  # the busiest hour fills the height
    small, tall = int(ok_small["height"]), int(bad["height"])
    assert small == round(10 / 100 * (HEIGHT - 1)) and tall == round(90 / 100 * (HEIGHT - 1))
    assert int(bad["y"]) + tall == int(ok_small["y"])  # red sits on green
    assert int(ok_small["y"]) + small == HEIGHT


def test_a_single_attempt_next_to_thousands_still_shows() -> None:
    shapes = rects(str(sparkline_svg([5000, 0], [0, 1])))
    assert int(shapes[1]["height"]) == 1


def test_no_inline_style_and_escaping_is_not_needed_for_numbers() -> None:
    svg = str(sparkline_svg([3, 1], [1, 3]))
    assert "style" not in svg and "<script" not in svg
    assert re.fullmatch(r"<svg [^>]*>.*</svg>", svg)


def test_the_series_must_line_up() -> None:
    with pytest.raises(ValueError, match="one count per hour"):
        sparkline_svg([1, 2], [1])


def test_the_text_leaves_out_a_quiet_current_hour() -> None:
    assert sparkline_text([4, 0], [1, 0]) == "last 2 hours: 4 delivered, 1 failed"
