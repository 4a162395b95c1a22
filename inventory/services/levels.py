"""Shared pieces of the stock services: argument checks, the level of a SKU in a warehouse, and the
after-commit hooks: stock-available (``INVENTORY_STOCK_AVAILABLE_HOOKS``, other apps register them)
and stock-changed (``INVENTORY_STOCK_CHANGED_HOOKS``: the alert check, after every movement)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Min, Sum
from django.utils.module_loading import import_string

from inventory.errors import (
    InvalidQuantity,
    StockLimit,
)
from inventory.models import (
    STOCK_LEVEL_MAX,
    Reservation,
    Sku,
    StockLevel,
    Warehouse,
)

logger = logging.getLogger("inventory.services")  # the name operators filter on, as before the split

Actor = AbstractBaseUser | None


def _positive(quantity: int, *, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidQuantity(field=field, value=str(quantity))
    return quantity


def _actor(actor: Actor) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def _stock_became_available(stock_ids: Iterable[int]) -> None:
    """After commit, tell interested apps (backorder filling) that units became available.

    Inventory may not import the apps that depend on it, so they register
    dotted paths in ``INVENTORY_STOCK_AVAILABLE_HOOKS``. Each hook gets
    ``stock_ids=(...)`` and runs once the stock change is committed.
    """
    ids = tuple(sorted(set(stock_ids)))
    if not ids:
        return
    for path in getattr(settings, "INVENTORY_STOCK_AVAILABLE_HOOKS", ()):
        transaction.on_commit(_AfterCommitHook(path=path, stock_ids=ids))


def _stock_changed(stock_ids: Iterable[int]) -> None:
    """After commit, run the stock-changed hooks (the alert check) for levels any movement touched.

    Called by every service that writes the ledger, whichever way available moved (a
    reservation lowers it), and after ``_stock_became_available`` in the same call, so the
    check runs once backorder filling has taken what it takes and sees the level as it stays.
    """
    ids = tuple(sorted(set(stock_ids)))
    if not ids:
        return
    for path in getattr(settings, "INVENTORY_STOCK_CHANGED_HOOKS", ()):
        transaction.on_commit(
            _AfterCommitHook(path=path, stock_ids=ids, kind="stock-changed", catch_up="the alert sweep")
        )


@dataclass(frozen=True)
class _AfterCommitHook:
    """One after-commit stock hook; a failure is logged, never raised.

    By the time it runs the write is committed: raising would turn a booked
    receipt into a 500, and the client's retry would book it twice. A beat
    sweeper (``backorders_sweep_task``, ``stock_alerts_sweep_task``) does what a
    failed hook left undone.
    """

    path: str
    stock_ids: tuple[int, ...]
    kind: str = "stock-available"
    catch_up: str = "the backorder sweeper"

    def __call__(self) -> None:
        try:
            import_string(self.path)(stock_ids=self.stock_ids)
        except Exception:  # the after-commit boundary: the sweeper is this hook's retry
            logger.exception(
                "%s hook %s failed for stock ids %s; the committed change stands and %s will catch up",
                self.kind,
                self.path,
                self.stock_ids,
                self.catch_up,
            )


def _stock_limit(*, sku: Sku, warehouse: Warehouse, level: StockLevel, change: int) -> StockLimit:
    level.refresh_from_db(fields=["on_hand"])
    return StockLimit(
        sku=sku.code, warehouse=warehouse.code, on_hand=level.on_hand, change=change, limit=STOCK_LEVEL_MAX
    )


def _holders(level: StockLevel) -> list[tuple[str, int]]:
    """Who holds a level's reserved units: (reference, units) per active reservation reference, oldest first."""
    rows = (
        Reservation.objects.filter(stock_id=level.pk, status=Reservation.Status.ACTIVE)
        .order_by()
        .values("reference")
        .annotate(units=Sum("quantity"), first=Min("pk"))
        .order_by("first")
        .values_list("reference", "units")
    )
    return list(rows)


def stock_level_get(*, sku: Sku, warehouse: Warehouse) -> StockLevel:
    """The level of a SKU in a warehouse, created at zero if it does not exist yet (safe under races)."""
    level, _ = StockLevel.objects.get_or_create(sku=sku, warehouse=warehouse)
    return level
