"""Demand and days of cover: pure functions over ledger aggregates (no ORM, no settings).

The selectors (``inventory.selectors.cover_list``, the stock grid) and the alert check
(``inventory.alerts``) read each stock level with its ledger aggregates in one query
(``selectors.with_demand`` per level; the cover list sums the window in one GROUP BY) and hand
each SKU x warehouse's numbers to these functions, so the rules below are tested without a database.

**Demand signal.** The units of a SKU x warehouse in a window are its ``reservation`` movements
minus its ``release`` movements booked in that window (at least 0). Every unit an order takes is
reserved first; a shipment (ledger ``shipment``) only closes a reservation, and a cancellation
releases it. So reservations net of releases count what customers ordered and did not cancel,
shipped or not yet: adding shipments on top would count a shipped unit twice, and shipments alone
would miss the orders not yet shipped and lag demand by the time to pick and pack. That stays
right once shipping books every shipment, so nothing changes when it lands. Known blind spots:
a backordered line reserves nothing until stock arrives (demand for a size already out is seen
late), and a short pick releases what the bin lacked (the refill reserves it again later).

**Daily demand.** Each window gives a daily rate, units / days; the weighted daily demand is
``0.5 * rate_7 + 0.3 * rate_28 + 0.2 * rate_90``: the last week leads (insoles sell in bursts
after a campaign) while the quarter keeps one quiet week from zeroing a steady seller. A SKU x
warehouse with less history than a window (its first ledger movement is younger than the window)
divides by the days it has existed instead, rounded up to whole days and at least 1, so a size
launched ten days ago is not diluted as if it had been on sale for 90 days.

**Cover.** ``days_of_cover = available / daily_demand``; no demand: ``None`` (cover is not
infinite, it is unknown); nothing available: 0. ``stockout_date`` is today plus the whole days
of cover (the day the last unit is expected to go), ``None`` without demand.

**Reorder.** ``suggested_reorder`` is what to order today so that, when it arrives after the
lead time, ``target_cover_days`` of demand are in stock: ``daily_demand * (lead_time_days +
target_cover_days) - available - on_order``, rounded up to whole units, never negative, 0
without demand. There are no purchase orders in the model yet (a receipt is booked when goods
arrive), so callers pass ``on_order=0``: nothing counts as already on order.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

# Window length in days -> weight of its daily rate in the daily demand (the weights add up to 1).
WINDOW_WEIGHTS: dict[int, float] = {7: 0.5, 28: 0.3, 90: 0.2}
WINDOWS: tuple[int, ...] = tuple(WINDOW_WEIGHTS)
LONGEST_WINDOW = max(WINDOWS)

# Rounding of what the API shows; the values derived from it use the unrounded rate.
DAILY_DEMAND_DECIMALS = 3
COVER_DECIMALS = 1
# Float noise (0.1 * 3 == 0.30000000000000004) must not add a unit to a reorder.
_REORDER_EPSILON = 1e-9


@dataclass(frozen=True)
class Demand:
    """Units demanded in each window (nested: the 28 days include the 7) and the days of history.

    ``history_days`` is the age of the SKU x warehouse's first ledger movement in whole days
    (rounded up, at least 1), or ``None`` for one with no movement at all.
    """

    units_7d: int = 0
    units_28d: int = 0
    units_90d: int = 0
    history_days: int | None = None

    def units(self, window: int) -> int:
        return {7: self.units_7d, 28: self.units_28d, 90: self.units_90d}[window]


@dataclass(frozen=True)
class Cover:
    """The forecast for one SKU x warehouse, as the cover endpoint and the grid show it."""

    available: int
    demand: Demand
    daily_demand: float  # rounded to DAILY_DEMAND_DECIMALS
    days_of_cover: float | None  # rounded to COVER_DECIMALS
    stockout_date: dt.date | None
    suggested_reorder: int


def history_days(*, first_movement_at: dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole days (rounded up, at least 1) since a SKU x warehouse's first ledger movement; None if none."""
    if first_movement_at is None:
        return None
    seconds = (now - first_movement_at).total_seconds()
    return max(1, math.ceil(seconds / 86400))


def window_rate(*, units: int, window: int, history: int | None) -> float:
    """Units per day over a window, or over the SKU's history when that is shorter; negative units count 0."""
    days = window if history is None else min(window, max(1, history))
    return max(0, units) / days


def daily_demand(demand: Demand) -> float:
    """The weighted daily demand (unrounded): sum of weight x the window's daily rate."""
    return sum(
        weight * window_rate(units=demand.units(window), window=window, history=demand.history_days)
        for window, weight in WINDOW_WEIGHTS.items()
    )


def days_of_cover(*, available: int, daily: float) -> float | None:
    """Days the available units last at the daily demand; None without demand, 0 with nothing available."""
    if daily <= 0:
        return None
    return max(0, available) / daily


def stockout_date(*, today: dt.date, cover: float | None) -> dt.date | None:
    """The day the last unit is expected to go (today + whole days of cover); None without demand."""
    if cover is None:
        return None
    # Rounded first so that float noise (70 / 1.4 = 49.99999999999999) does not lose a day;
    # cover beyond what a date holds is no stock-out in sight worth a date.
    days = math.floor(round(cover, 6))
    if days > (dt.date.max - today).days:
        return None
    return today + dt.timedelta(days=days)


def suggested_reorder(
    *, available: int, daily: float, lead_time_days: int, target_cover_days: int, on_order: int = 0
) -> int:
    """Units to order now to hold ``target_cover_days`` of demand when the order arrives; never negative.

    Negative ``available`` (more promised than held) adds to the order: those units are owed.
    """
    if daily <= 0:
        return 0
    needed = daily * (lead_time_days + target_cover_days) - available - on_order
    if needed <= _REORDER_EPSILON:
        return 0
    return math.ceil(needed - _REORDER_EPSILON)


def cover(
    *,
    available: int,
    demand: Demand,
    today: dt.date,
    lead_time_days: int,
    target_cover_days: int,
    on_order: int = 0,
) -> Cover:
    """Everything the cover endpoint shows for one SKU x warehouse, from its level and its demand."""
    daily = daily_demand(demand)
    days = days_of_cover(available=available, daily=daily)
    return Cover(
        available=available,
        demand=demand,
        daily_demand=round(daily, DAILY_DEMAND_DECIMALS),
        days_of_cover=None if days is None else round(days, COVER_DECIMALS),
        stockout_date=stockout_date(today=today, cover=days),
        suggested_reorder=suggested_reorder(
            available=available,
            daily=daily,
            lead_time_days=lead_time_days,
            target_cover_days=target_cover_days,
            on_order=on_order,
        ),
    )
