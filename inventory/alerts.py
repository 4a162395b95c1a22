"""Stock alerts: open when a SKU x warehouse runs low, close when it recovers, notify both ways.

**Kinds.** ``low_stock``: available at or below the level's reorder point (a reorder point of 0
is "none set" and never alerts, as the stock list's ``below_reorder`` filter reads it).
``stockout_risk``: with demand, the days of cover (``inventory.forecast``) are fewer than the
supplier lead time (the SKU's ``lead_time_days``, else ``STOCK_LEAD_TIME_DAYS``): the stock runs
out before a reorder placed today arrives.

**Lifecycle.** An alert opens when its condition starts, stays open (and quiet) while it lasts,
and closes when the condition ends; the condition starting again opens a new row. At most one
alert of a kind is open per SKU x warehouse: a partial unique index, and the INSERT skips a
conflict, so two processes seeing the same low level at once open one alert and notify once.

**When.** ``stock_alerts_check`` runs after the COMMIT of every movement, for the levels the
movement touched (the stock-changed hook ``inventory.dispatch.alerts_check_soon``: right away
in-process, or batched a second later on a worker), so a rolled back movement never opens or
closes anything. It reads the levels with their demand in one
query; only when something opens or closes does it open a transaction that writes the alert
rows and their notifications together (outbox rows, sent after that commit). A failure is
logged by the hook boundary and never fails the movement; ``stock_alerts_sweep`` (beat,
``STOCK_ALERTS_SWEEP_EVERY_SECONDS``) re-evaluates every level and catches up.

**Notifications.** Opening sends a ``stock.low`` webhook event and an email to
``OPS_ALERT_EMAILS``; closing sends ``stock.recovered`` and an email (see ``_notify``).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from inventory import forecast
from inventory.models import AlertKind, StockAlert, StockLevel
from inventory.selectors import DEMAND_KINDS, raw_datetime
from outbox.errors import DeliveryFailed, DeliveryRetry
from outbox.events import STOCK_LOW, STOCK_RECOVERED
from outbox.services import event_publish, message_enqueue

logger = logging.getLogger(__name__)

EVENT_LOW = STOCK_LOW
EVENT_RECOVERED = STOCK_RECOVERED
# The outbox kind of the alert emails (handler: ``alert_email_send``, registered in OUTBOX_HANDLERS).
EMAIL_KIND = "ops_email"
# Levels re-evaluated per query by the sweep.
SWEEP_CHUNK = 1000


@dataclass(frozen=True)
class Reading:
    """One level's numbers as the check saw them, and which alerts it has open."""

    stock_id: int
    sku_id: int
    warehouse_id: int
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    reorder_point: int
    lead_time_days: int
    daily_demand: float
    days_of_cover: float | None  # unrounded; None without demand
    open_kinds: frozenset[str]

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def conditions(self) -> frozenset[str]:
        """The alert kinds whose condition holds now."""
        kinds = set()
        if self.reorder_point > 0 and self.available <= self.reorder_point:
            kinds.add(AlertKind.LOW_STOCK.value)
        if self.days_of_cover is not None and self.days_of_cover < self.lead_time_days:
            kinds.add(AlertKind.STOCKOUT_RISK.value)
        return frozenset(kinds)


@dataclass
class AlertChanges:
    """What a check or sweep did: the alerts it opened and closed."""

    opened: list[StockAlert] = field(default_factory=list)
    closed: list[StockAlert] = field(default_factory=list)

    def __iadd__(self, other: AlertChanges) -> AlertChanges:
        self.opened += other.opened
        self.closed += other.closed
        return self


# The levels with their demand (inventory.selectors.with_demand's rules: reservations net of releases
# per window, the first ledger movement) and their open alerts, in one statement. Written out rather
# than built by the ORM: compiling with_demand's annotated queryset costs ~5 ms of Python, the
# statement itself about a millisecond, and this runs after every movement. The window's ledger rows
# of the touched levels are read once and summed per window with FILTER (per-window subqueries read
# the 90 days' rows three times); the first movement is the first entry in the (sku, warehouse,
# created_at) index. No LATERAL, so SQLite runs it too; on PostgreSQL the same statement is the
# function inventory_alert_readings (migration 0012), whose plan is kept per connection: planning
# was more than half of the statement's time. Tests hold both to with_demand and to each other.
_READINGS_SQL = """
SELECT l.id, l.sku_id, l.warehouse_id, s.code, w.code, s.lead_time_days, l.on_hand, l.reserved, l.reorder_point,
  COALESCE(d.units_7d, 0), COALESCE(d.units_28d, 0), COALESCE(d.units_90d, 0),
  (SELECT MIN(f.created_at) FROM inventory_stockmovement f
    WHERE f.sku_id = l.sku_id AND f.warehouse_id = l.warehouse_id AND f.created_at <= %(now)s),
  EXISTS (SELECT 1 FROM inventory_stockalert a WHERE a.sku_id = l.sku_id AND a.warehouse_id = l.warehouse_id
          AND a.kind = %(low)s AND a.closed_at IS NULL),
  EXISTS (SELECT 1 FROM inventory_stockalert a WHERE a.sku_id = l.sku_id AND a.warehouse_id = l.warehouse_id
          AND a.kind = %(risk)s AND a.closed_at IS NULL)
FROM inventory_stocklevel l
JOIN inventory_sku s ON s.id = l.sku_id
JOIN inventory_warehouse w ON w.id = l.warehouse_id
LEFT JOIN (
    SELECT m.sku_id, m.warehouse_id,
           SUM(m.quantity) FILTER (WHERE m.created_at >= %(since_7)s) AS units_7d,
           SUM(m.quantity) FILTER (WHERE m.created_at >= %(since_28)s) AS units_28d,
           SUM(m.quantity) AS units_90d
    FROM inventory_stockmovement m
    JOIN inventory_stocklevel t ON t.sku_id = m.sku_id AND t.warehouse_id = m.warehouse_id
    WHERE t.id IN ({ids}) AND m.kind IN (%(reservation)s, %(release)s)
      AND m.created_at >= %(since_90)s AND m.created_at <= %(now)s
    GROUP BY m.sku_id, m.warehouse_id
) d ON d.sku_id = l.sku_id AND d.warehouse_id = l.warehouse_id
WHERE l.id IN ({ids})
"""


def _rows_from_function(ids: list[int], *, now: dt.datetime) -> list[tuple]:
    """PostgreSQL: ``inventory_alert_readings`` (migration 0012), the statement below with its plan kept."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM inventory_alert_readings(%s::bigint[], %s)", [ids, now])
        return cursor.fetchall()


def _rows_from_statement(ids: list[int], *, now: dt.datetime) -> list[tuple]:
    adapt = connection.ops.adapt_datetimefield_value
    reservation, release = DEMAND_KINDS
    params = {
        "now": adapt(now),
        "low": AlertKind.LOW_STOCK.value,
        "risk": AlertKind.STOCKOUT_RISK.value,
        "reservation": reservation.value,
        "release": release.value,
        **{f"since_{window}": adapt(now - dt.timedelta(days=window)) for window in forecast.WINDOWS},
        **{f"id_{n}": pk for n, pk in enumerate(ids)},
    }
    sql = _READINGS_SQL.format(ids=", ".join(f"%(id_{n})s" for n in range(len(ids))))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def readings(stock_ids: Collection[int], *, now: dt.datetime) -> list[Reading]:
    """The levels with their demand and open alert kinds: one statement (index lookups per level)."""
    ids = sorted(set(stock_ids))
    if not ids:
        return []
    if connection.vendor == "postgresql":
        rows = _rows_from_function(ids, now=now)
    else:
        rows = _rows_from_statement(ids, now=now)
    found = []
    for (
        pk,
        sku_id,
        warehouse_id,
        sku,
        warehouse,
        lead,
        on_hand,
        reserved,
        point,
        u7,
        u28,
        u90,
        first,
        low,
        risk,
    ) in rows:
        demand = forecast.Demand(
            units_7d=max(0, u7),
            units_28d=max(0, u28),
            units_90d=max(0, u90),
            history_days=forecast.history_days(first_movement_at=raw_datetime(first), now=now),
        )
        daily = forecast.daily_demand(demand)
        found.append(
            Reading(
                stock_id=pk,
                sku_id=sku_id,
                warehouse_id=warehouse_id,
                sku=sku,
                warehouse=warehouse,
                on_hand=on_hand,
                reserved=reserved,
                reorder_point=point,
                lead_time_days=settings.STOCK_LEAD_TIME_DAYS if lead is None else lead,
                daily_demand=daily,
                days_of_cover=forecast.days_of_cover(available=on_hand - reserved, daily=daily),
                open_kinds=frozenset(
                    kind
                    for kind, is_open in ((AlertKind.LOW_STOCK.value, low), (AlertKind.STOCKOUT_RISK.value, risk))
                    if is_open
                ),
            )
        )
    return found


def stock_alerts_check(*, stock_ids: Collection[int]) -> AlertChanges:
    """Open and close the alerts of these stock levels from their committed numbers (the stock-changed hook)."""
    if not stock_ids:
        return AlertChanges()
    now = timezone.now()
    return _apply(readings(stock_ids, now=now), now=now)


def stock_alerts_sweep() -> AlertChanges:
    """Re-evaluate every stock level (beat safety net): what a missed or failed check left is put right."""
    changes = AlertChanges()
    last = 0
    while True:
        ids = list(StockLevel.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:SWEEP_CHUNK])
        if not ids:
            return changes
        now = timezone.now()
        changes += _apply(readings(ids, now=now), now=now)
        last = ids[-1]


def _apply(found: Iterable[Reading], *, now: dt.datetime) -> AlertChanges:
    to_open: list[tuple[Reading, str]] = []
    to_close: dict[tuple[int, int, str], Reading] = {}
    for reading in found:
        holds = reading.conditions()
        to_open += [(reading, kind) for kind in sorted(holds - reading.open_kinds)]
        for kind in reading.open_kinds - holds:
            to_close[(reading.sku_id, reading.warehouse_id, kind)] = reading
    if not to_open and not to_close:
        return AlertChanges()  # the common case: one query, no transaction
    with transaction.atomic():
        changes = AlertChanges(opened=_insert(to_open, now=now), closed=_close(to_close, now=now))
        for alert in changes.opened:
            _notify(alert, opened=True)
        for alert in changes.closed:
            _notify(alert, opened=False)
    for alert in changes.opened:
        logger.info(
            "stock alert opened: %s %s in %s (available %s)",
            alert.kind,
            alert.sku_code,
            alert.warehouse_code,
            alert.available,
        )
    for alert in changes.closed:
        logger.info("stock alert closed: %s %s in %s", alert.kind, alert.sku_code, alert.warehouse_code)
    return changes


_INSERT_COLUMNS = (
    "sku_id",
    "warehouse_id",
    "kind",
    "opened_at",
    "on_hand",
    "reserved",
    "available",
    "reorder_point",
    "daily_demand",
    "days_of_cover",
    "lead_time_days",
)


def _insert(to_open: list[tuple[Reading, str]], *, now: dt.datetime) -> list[StockAlert]:
    """INSERT the new alerts, skipping any another process opened meanwhile (the partial unique index)."""
    if not to_open:
        return []
    rows = [
        (
            reading.sku_id,
            reading.warehouse_id,
            kind,
            now,
            reading.on_hand,
            reading.reserved,
            reading.available,
            reading.reorder_point,
            round(reading.daily_demand, forecast.DAILY_DEMAND_DECIMALS),
            None if reading.days_of_cover is None else round(reading.days_of_cover, forecast.COVER_DECIMALS),
            reading.lead_time_days,
        )
        for reading, kind in to_open
    ]
    table = connection.ops.quote_name(StockAlert._meta.db_table)
    values = ", ".join(["(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"] * len(rows))
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(value) if isinstance(value, dt.datetime) else value for row in rows for value in row]
    sql = (
        f"INSERT INTO {table} ({', '.join(_INSERT_COLUMNS)}) VALUES {values} "  # noqa: S608 (constants only)
        "ON CONFLICT DO NOTHING RETURNING id, sku_id, warehouse_id, kind"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchall()
    by_key = {
        (reading.sku_id, reading.warehouse_id, kind): (reading, row)
        for (reading, kind), row in zip(to_open, rows, strict=True)
    }
    opened = []
    for pk, sku_id, warehouse_id, kind in inserted:
        reading, row = by_key[(sku_id, warehouse_id, kind)]
        alert = StockAlert(pk=pk, **dict(zip(_INSERT_COLUMNS, row, strict=True)))
        alert.opened_at = now
        alert.sku_code, alert.warehouse_code = reading.sku, reading.warehouse
        opened.append(alert)
    return sorted(opened, key=lambda alert: alert.pk)


def _close(to_close: dict[tuple[int, int, str], Reading], *, now: dt.datetime) -> list[StockAlert]:
    """Close the open alerts whose condition ended; one another process closed meanwhile is left alone."""
    if not to_close:
        return []
    match = Q()
    for sku_id, warehouse_id, kind in to_close:
        match |= Q(sku_id=sku_id, warehouse_id=warehouse_id, kind=kind)
    # Locked in id order; a row another check closed meanwhile drops out of the WHERE once its lock is free.
    alerts = list(StockAlert.objects.select_for_update().filter(match, closed_at__isnull=True).order_by("pk"))
    if not alerts:
        return []
    available = {alert.pk: to_close[(alert.sku_id, alert.warehouse_id, alert.kind)].available for alert in alerts}
    StockAlert.objects.filter(pk__in=list(available)).update(
        # Never before it opened, even if another host's clock ran ahead when it did.
        closed_at=Greatest(Value(now), F("opened_at")),
        closed_available=Case(
            *(When(pk=pk, then=Value(units)) for pk, units in available.items()), output_field=IntegerField()
        ),
    )
    closed = []
    for alert in alerts:
        reading = to_close[(alert.sku_id, alert.warehouse_id, alert.kind)]
        alert.closed_at = max(now, alert.opened_at)
        alert.closed_available = reading.available
        alert.sku_code, alert.warehouse_code = reading.sku, reading.warehouse
        closed.append(alert)
    return closed


def alert_data(alert: StockAlert) -> dict:
    """The alert as its webhook's ``data`` and its email read it."""
    return {
        "alert_id": alert.pk,
        "sku": alert.sku_code,
        "warehouse": alert.warehouse_code,
        "kind": alert.kind,
        "status": alert.status,
        "opened_at": alert.opened_at.isoformat(),
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
        "on_hand": alert.on_hand,
        "reserved": alert.reserved,
        "available": alert.available,
        "reorder_point": alert.reorder_point,
        "daily_demand": alert.daily_demand,
        "days_of_cover": alert.days_of_cover,
        "lead_time_days": alert.lead_time_days,
        "closed_available": alert.closed_available,
    }


def _email(data: dict, *, opened: bool) -> tuple[str, str]:
    what = AlertKind(data["kind"]).label.lower()
    where = f"{data['sku']} in {data['warehouse']}"
    if opened:
        subject = f"[stock] {AlertKind(data['kind']).label}: {where} ({data['available']} available)"
        cover = "no demand" if data["days_of_cover"] is None else f"{data['days_of_cover']:.1f} days of cover"
        body = (
            f"{what.capitalize()} alert for {where}, opened {data['opened_at']}.\n\n"
            f"Available: {data['available']} (on hand {data['on_hand']}, reserved {data['reserved']})\n"
            f"Reorder point: {data['reorder_point']}\n"
            f"Demand: {data['daily_demand']:.2f} units a day, {cover}; lead time {data['lead_time_days']} days\n\n"
            "It closes by itself when the stock recovers. Dashboard: /ops/\n"
        )
    else:
        subject = f"[stock] Recovered: {where} ({data['closed_available']} available)"
        body = (
            f"The {what} alert for {where} (opened {data['opened_at']}) closed {data['closed_at']}: "
            f"{data['closed_available']} available now.\n"
        )
    return subject, body


def _notify(alert: StockAlert, *, opened: bool) -> None:
    """The alert's notifications, written in the caller's transaction (the outbox sends them after COMMIT).

    A ``stock.low`` (opened) or ``stock.recovered`` (closed) event to every webhook subscription
    to it, and an email to ``OPS_ALERT_EMAILS`` (none without addresses). Each is keyed by the
    alert and its transition, so writing it twice sends it once.
    """
    data = alert_data(alert)
    transition = "open" if opened else "close"
    event_publish(event_type=EVENT_LOW if opened else EVENT_RECOVERED, data=data, key=f"{alert.pk}:{transition}")
    recipients = list(settings.OPS_ALERT_EMAILS)
    if recipients:
        subject, body = _email(data, opened=opened)
        message_enqueue(
            kind=EMAIL_KIND,
            key=f"stock-alert:{alert.pk}:{transition}",
            payload={"to": recipients, "subject": subject, "body": body},
        )


def alert_email_send(message) -> None:
    """Outbox handler (``ops_email``): send an alert email through Django's mail backend."""
    payload = message.payload
    if not payload.get("to"):
        raise DeliveryFailed("no recipients")
    email = EmailMessage(
        subject=payload["subject"], body=payload["body"], from_email=settings.DEFAULT_FROM_EMAIL, to=payload["to"]
    )
    try:
        email.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise DeliveryFailed(f"{exc.__class__.__name__}: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # the server is down or busy: later
        raise DeliveryRetry(f"{exc.__class__.__name__}: {exc}") from exc
