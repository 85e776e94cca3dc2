"""A bar chart of one amount per day as inline SVG geometry (no chart library, no script):
bars grow up from the zero line for gains and down for losses, scaled to the largest
magnitude, so a glance tells good days from bad ones. Amounts stay integers; only the drawing
is scaled."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bar", "DailyChart", "daily_chart"]

WIDTH = 640
HEIGHT = 220
PAD_TOP = 10
PAD_BOTTOM = 30  # room for the day labels
PAD_LEFT = 4


@dataclass(frozen=True, slots=True)
class Bar:
    day: str
    amount: int
    x: float
    y: float
    width: float
    height: float
    label_x: float
    labelled: bool  # every day is a bar; only some carry a label, so labels never overlap

    @property
    def loss(self) -> bool:
        return self.amount < 0


@dataclass(frozen=True, slots=True)
class DailyChart:
    bars: list[Bar]
    zero_y: float
    width: int
    height: int
    largest: int  # the magnitude the full bar height stands for


def daily_chart(points: list[tuple[str, int]]) -> DailyChart:
    """Bars for ``(day, amount)`` in order."""
    largest = max((abs(amount) for _, amount in points), default=0)
    has_loss = any(amount < 0 for _, amount in points)
    has_gain = any(amount > 0 for _, amount in points)
    plot = HEIGHT - PAD_TOP - PAD_BOTTOM
    # The zero line sits where the signs present need it: the bottom, the top, or the middle.
    zero_y = PAD_TOP + (plot if not has_loss else 0 if not has_gain else plot / 2)
    scale = (plot / 2 if has_loss and has_gain else plot) / largest if largest else 0
    slot = (WIDTH - PAD_LEFT) / max(len(points), 1)
    every = max(1, len(points) // 7)
    bars = []
    for index, (day, amount) in enumerate(points):
        height = abs(amount) * scale
        x = PAD_LEFT + index * slot + slot * 0.15
        y = zero_y - height if amount >= 0 else zero_y
        labelled = (len(points) - 1 - index) % every == 0  # evenly spaced, the last day too
        bars.append(Bar(day, amount, x, y, slot * 0.7, height, x + slot * 0.35, labelled))
    return DailyChart(bars, zero_y, WIDTH, HEIGHT, largest)
