"""The finance chart's geometry: bars scale to the largest magnitude, gains stand on the zero
line and losses hang from it, and the zero line sits where the signs present need it."""

from __future__ import annotations

import pytest

from interfaces.admin.console.chart import HEIGHT, PAD_BOTTOM, PAD_TOP, daily_chart

PLOT = HEIGHT - PAD_TOP - PAD_BOTTOM


def test_gains_only_stand_on_a_bottom_zero_line_scaled_to_the_largest() -> None:
    chart = daily_chart([("2026-01-01", 50), ("2026-01-02", 100), ("2026-01-03", 0)])
    assert chart.zero_y == PAD_TOP + PLOT
    first, tallest, flat = chart.bars
    assert tallest.height == pytest.approx(PLOT)
    assert first.height == pytest.approx(PLOT / 2)
    assert first.y + first.height == pytest.approx(chart.zero_y)
    assert flat.height == 0
    assert chart.largest == 100


def test_gains_and_losses_meet_at_a_middle_zero_line() -> None:
    chart = daily_chart([("2026-01-01", -300), ("2026-01-02", 150)])
    assert chart.zero_y == pytest.approx(PAD_TOP + PLOT / 2)
    loss, gain = chart.bars
    assert (loss.loss, gain.loss) == (True, False)
    assert loss.y == pytest.approx(chart.zero_y)
    assert loss.height == pytest.approx(PLOT / 2)
    assert gain.height == pytest.approx(PLOT / 4)
    assert gain.y + gain.height == pytest.approx(chart.zero_y)


def test_losses_only_hang_from_a_top_zero_line() -> None:
    chart = daily_chart([("2026-01-01", -10)])
    assert chart.zero_y == PAD_TOP
    assert chart.bars[0].height == pytest.approx(PLOT)


def test_a_long_range_labels_about_a_week_of_days_and_always_the_last() -> None:
    points = [(f"2026-01-{n:02d}", n) for n in range(1, 31)]
    chart = daily_chart(points)
    labelled = [bar.day for bar in chart.bars if bar.labelled]
    assert labelled[-1] == "2026-01-30"
    assert 7 <= len(labelled) <= 9
    assert all(a.x < b.x for a, b in zip(chart.bars, chart.bars[1:], strict=False))


def test_no_money_draws_flat_bars() -> None:
    chart = daily_chart([("2026-01-01", 0)])
    assert chart.largest == 0
    assert chart.bars[0].height == 0
