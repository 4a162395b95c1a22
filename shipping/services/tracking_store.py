"""Tracking events into the database: one set-based ``INSERT ... ON CONFLICT DO NOTHING`` per
batch, deduplicated on (courier, tracking number, code, time), that also returns every event of
the shipments it added to (``shipping.services.tracking`` derives their statuses from them)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from shipping.couriers import base
from shipping.models import Shipment, TrackingEvent

INSERT_CHUNK = 500  # rows per INSERT where the database is not PostgreSQL


def event_row(shipment: Shipment, event: base.TrackingEvent) -> tuple:
    occurred = event.occurred_at
    if occurred.tzinfo is None:  # adapters give aware times; a naive one is taken as UTC
        occurred = occurred.replace(tzinfo=dt.UTC)
    status = event.status if event.status in base.EVENT_STATUSES else base.IN_TRANSIT
    return (
        shipment.pk,
        shipment.courier,
        shipment.tracking_number,  # the shipment's number: a push for a piece and a poll dedupe together
        event.code[:64],
        event.description[:500],
        status,
        event.reason[:255],
        event.location[:255],
        occurred,
    )


class StoredEvent(NamedTuple):
    """A stored event as recording reads it (what ``TrackingEvent`` has that ``_derive`` and the hooks use)."""

    pk: int
    shipment_id: int
    code: str
    description: str
    status: str
    reason: str
    location: str
    occurred_at: dt.datetime


_STORED_FIELDS = ("id", "shipment", "code", "description", "status", "reason", "location", "occurred_at")


def events_insert(rows: list[tuple]) -> tuple[set[int], set[int], dict[int, list] | None]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the ids of the new events, their shipments and, on
    PostgreSQL, every event of those shipments (the new ones and those stored before), in time order,
    from the same statement. Elsewhere the third is None and the caller reads them."""
    seen: set[tuple] = set()
    unique = []
    for row in rows:
        key = (row[1], row[2], row[3], row[8])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    if not unique:
        return set(), set(), None
    meta = TrackingEvent._meta
    columns = [
        meta.get_field(name).column
        for name in (
            "shipment",
            "courier",
            "tracking_number",
            "code",
            "description",
            "status",
            "reason",
            "location",
            "occurred_at",
            "received_at",
        )
    ]
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    new_ids: set[int] = set()
    touched: set[int] = set()
    target = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
    conflict = "ON CONFLICT (courier, tracking_number, code, occurred_at) DO NOTHING "
    returning = f"RETURNING {quote('id')}, {quote(columns[0])}"
    if connection.vendor == "postgresql":
        # One statement whatever the batch size (the same text every time: prepared and cached once).
        # The WITH's INSERT and the main query share one snapshot: the second half reads the events
        # stored before this insert, of the shipments it added to (locked: nobody else adds to them).
        # The rows travel as one JSON text (json.dumps is C; arrays would be quoted element by element).
        types = ("bigint", "text", "text", "text", "text", "text", "text", "text", "timestamptz")
        fields = ", ".join(f"(r->>{i})::{t}" for i, t in enumerate(types))
        payload = json.dumps([[*row[:8], row[8].isoformat()] for row in unique], ensure_ascii=False)
        stored_columns = [quote(meta.get_field(name).column) for name in _STORED_FIELDS]
        listed = ", ".join(stored_columns)
        shipment_column = stored_columns[1]
        sql = (
            f"WITH new AS ({target}SELECT {fields}, %s FROM json_array_elements(%s::json) AS r "  # noqa: S608
            f"{conflict}RETURNING {listed}) "
            f"SELECT TRUE, {listed} FROM new UNION ALL "
            f"SELECT FALSE, {', '.join(f'e.{c}' for c in stored_columns)} FROM {quote(meta.db_table)} AS e "
            f"WHERE e.{shipment_column} IN (SELECT {shipment_column} FROM new)"
        )
        stored: dict[int, list] = defaultdict(list)
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, payload])
            for is_new, *values in cursor.fetchall():
                event = StoredEvent(*values)
                if is_new:
                    new_ids.add(event.pk)
                    touched.add(event.shipment_id)
                stored[event.shipment_id].append(event)
        for events in stored.values():
            events.sort(key=lambda e: (e.occurred_at, e.pk))
        return new_ids, touched, stored
    with connection.cursor() as cursor:
        for start in range(0, len(unique), INSERT_CHUNK):
            chunk = unique[start : start + INSERT_CHUNK]
            placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
            params = []
            for row in chunk:
                params.extend([*row[:8], adapt(row[8]), now])
            sql = f"{target}VALUES {placeholders} {conflict}{returning}"
            cursor.execute(sql, params)
            for event_id, shipment_id in cursor.fetchall():
                new_ids.add(event_id)
                touched.add(shipment_id)
    return new_ids, touched, None
