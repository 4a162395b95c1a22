"""inventory.forecast: demand, days of cover, stock-out date and reorder suggestion, with no database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from inventory import forecast
from inventory.forecast import Demand

TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def cover(available: int, demand: Demand, *, lead: int = 14, target: int = 30) -> forecast.Cover:
    return forecast.cover(
        available=available, demand=demand, today=TODAY, lead_time_days=lead, target_cover_days=target
    )


def test_the_weights_add_up_to_one_and_cover_the_three_windows():
    assert forecast.WINDOWS == (7, 28, 90)
    assert sum(forecast.WINDOW_WEIGHTS.values()) == pytest.approx(1.0)


def test_a_steady_seller_has_the_same_rate_in_every_window():
    # 1 a day for 90 days: 7, 28 and 90 units; every rate is 1, so the weighted demand is 1.
    steady = Demand(units_7d=7, units_28d=28, units_90d=90)
    assert forecast.daily_demand(steady) == pytest.approx(1.0)
    result = cover(45, steady)
    assert result.daily_demand == 1.0
    assert result.days_of_cover == 45.0
    assert result.stockout_date == dt.date(2027, 1, 15)
    # 1/day x (14 lead + 30 target) = 44 needed, 45 available: nothing to order.
    assert result.suggested_reorder == 0
    assert cover(10, steady).suggested_reorder == 34


def test_the_weighted_demand_is_half_the_week_three_tenths_the_month_a_fifth_the_quarter():
    demand = Demand(units_7d=14, units_28d=28, units_90d=45)  # rates 2, 1, 0.5
    assert forecast.daily_demand(demand) == pytest.approx(0.5 * 2 + 0.3 * 1 + 0.2 * 0.5)  # 1.4
    result = cover(70, demand)
    assert result.daily_demand == 1.4
    assert result.days_of_cover == 50.0
    assert result.stockout_date == TODAY + dt.timedelta(days=50)
    # 1.4 x 44 = 61.6 needed; 20 available: 41.6, rounded up.
    assert cover(20, demand).suggested_reorder == 42


def test_no_demand_means_no_cover_no_stockout_and_nothing_to_order():
    for demand in (Demand(), Demand(history_days=3), Demand(units_7d=0, units_28d=0, units_90d=0, history_days=200)):
        result = cover(50, demand)
        assert (result.daily_demand, result.days_of_cover, result.stockout_date, result.suggested_reorder) == (
            0.0,
            None,
            None,
            0,
        )
    # Nothing available and nothing sold: still no cover figure, and no reorder.
    assert cover(0, Demand()).days_of_cover is None and cover(0, Demand()).suggested_reorder == 0
    assert forecast.days_of_cover(available=10, daily=0.0) is None
    assert forecast.stockout_date(today=TODAY, cover=None) is None


def test_nothing_available_with_demand_is_zero_cover_and_a_stockout_today():
    demand = Demand(units_7d=7, units_28d=28, units_90d=90)
    result = cover(0, demand)
    assert result.days_of_cover == 0.0
    assert result.stockout_date == TODAY
    assert result.suggested_reorder == 44


def test_negative_available_is_no_cover_and_the_owed_units_are_ordered_too():
    demand = Demand(units_7d=7, units_28d=28, units_90d=90)
    result = cover(-5, demand)
    assert result.days_of_cover == 0.0 and result.stockout_date == TODAY
    assert result.suggested_reorder == 44 + 5


def test_demand_only_in_the_last_seven_days_of_a_long_history():
    # 7 units this week, nothing before, on sale for a year: the quarter and month dilute the week.
    demand = Demand(units_7d=7, units_28d=7, units_90d=7, history_days=365)
    expected = 0.5 * 1 + 0.3 * 7 / 28 + 0.2 * 7 / 90
    assert forecast.daily_demand(demand) == pytest.approx(expected)
    result = cover(30, demand)
    assert result.daily_demand == round(expected, 3) == 0.591
    assert result.days_of_cover == round(30 / expected, 1) == 50.8
    assert result.stockout_date == TODAY + dt.timedelta(days=50)
    assert result.suggested_reorder == 0  # 0.591 x 44 = 26 < 30
    assert cover(10, demand).suggested_reorder == 16  # 25.98 - 10, rounded up


def test_a_young_sku_divides_by_the_days_it_has_existed():
    # On sale for 4 days and sold 8: 2 a day in every window, not 8/28 or 8/90.
    demand = Demand(units_7d=8, units_28d=8, units_90d=8, history_days=4)
    assert forecast.daily_demand(demand) == pytest.approx(2.0)
    assert cover(10, demand).days_of_cover == 5.0
    # 20 days of history: the week is a full week; the month and quarter use the 20 days.
    demand = Demand(units_7d=7, units_28d=20, units_90d=20, history_days=20)
    assert forecast.daily_demand(demand) == pytest.approx(0.5 * 1 + 0.3 * 1 + 0.2 * 1)


def test_history_days_rounds_up_to_whole_days_and_is_at_least_one():
    assert forecast.history_days(first_movement_at=None, now=NOW) is None
    assert forecast.history_days(first_movement_at=NOW, now=NOW) == 1
    assert forecast.history_days(first_movement_at=NOW - dt.timedelta(minutes=5), now=NOW) == 1
    assert forecast.history_days(first_movement_at=NOW - dt.timedelta(days=3, hours=1), now=NOW) == 4
    assert forecast.history_days(first_movement_at=NOW - dt.timedelta(days=90), now=NOW) == 90


def test_window_rates_ignore_negative_net_units():
    # More released than reserved in a window (a cancellation of an older order): no demand, not negative.
    assert forecast.window_rate(units=-3, window=7, history=None) == 0.0
    assert forecast.daily_demand(Demand(units_7d=-3, units_28d=-3, units_90d=-3)) == 0.0


def test_lead_time_and_target_drive_the_reorder():
    demand = Demand(units_7d=14, units_28d=56, units_90d=180)  # 2 a day
    assert cover(0, demand, lead=14, target=30).suggested_reorder == 88
    assert cover(0, demand, lead=0, target=30).suggested_reorder == 60
    assert cover(0, demand, lead=7, target=0).suggested_reorder == 14
    assert cover(100, demand, lead=7, target=0).suggested_reorder == 0
    # Units already on order count against it (callers pass 0: no purchase orders are modelled).
    assert forecast.suggested_reorder(available=0, daily=2.0, lead_time_days=14, target_cover_days=30, on_order=80) == 8
    assert forecast.suggested_reorder(available=0, daily=2.0, lead_time_days=14, target_cover_days=30, on_order=99) == 0


def test_float_noise_does_not_add_a_unit():
    # 0.1 x 3 is 0.30000000000000004 in binary floating point; 0.3 x 10 needs exactly 3.
    assert forecast.suggested_reorder(available=0, daily=0.1 * 3, lead_time_days=0, target_cover_days=10) == 3
    assert forecast.suggested_reorder(available=0, daily=0.301, lead_time_days=0, target_cover_days=10) == 4


def test_a_slow_seller_has_a_small_rate_and_a_distant_stockout():
    demand = Demand(units_7d=0, units_28d=0, units_90d=1)
    result = cover(1000, demand)
    assert result.daily_demand == 0.002  # 0.2 / 90, never shown as 0 while there is demand
    assert result.days_of_cover == 450000.0
    assert result.stockout_date == TODAY + dt.timedelta(days=450000)
    # Beyond the calendar: no date rather than an error.
    assert forecast.stockout_date(today=TODAY, cover=1e12) is None


def test_the_module_is_pure():
    source = Path(forecast.__file__).read_text()
    assert "django" not in source and "settings" not in source.split('"""', 2)[2]
