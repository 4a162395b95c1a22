"""Webhook intake, web side: verify the signature, store the delivery, answer.

The request does no order work: it verifies, parses (so an unreadable body gets its 400),
stores the delivery as pending in one autocommit INSERT and hands it to ``dispatch`` after
commit. ``fulfilment.services.inbox`` processes it on the worker side.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from config.runtime import UNSET, changed_at_run_time
from fulfilment import locks
from fulfilment.errors import PayloadInvalid, ShopMismatch, SignatureInvalid
from fulfilment.models import InboxDelivery, Order
from fulfilment.services import dispatch
from fulfilment.storefronts import Delivery, IncomingOrder, get_storefront, woocommerce

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookResult:
    delivery: InboxDelivery | None  # None only for a WooCommerce ping
    order: Order | None
    duplicate: bool = False


def _secrets(listed_name: str, flat_name: str) -> list[str]:
    """The parsed list (``SHOPIFY_WEBHOOK_SECRETS``), unless the environment-named setting
    (``SHOPIFY_WEBHOOK_SECRET``, comma-separated) was changed at run time: then that one."""
    flat = changed_at_run_time(flat_name)
    if flat is UNSET:
        return list(getattr(settings, listed_name))
    values = flat.split(",") if isinstance(flat, str) else list(flat or [])
    return [str(v).strip() for v in values if str(v).strip()]


def _storefront_secrets(channel: str) -> tuple[list[str], str | None]:
    if channel == "shopify":
        return _secrets("SHOPIFY_WEBHOOK_SECRETS", "SHOPIFY_WEBHOOK_SECRET"), settings.SHOPIFY_SHOP_DOMAIN or None
    secrets = _secrets("WOOCOMMERCE_WEBHOOK_SECRETS", "WOOCOMMERCE_WEBHOOK_SECRET")
    return secrets, woocommerce.shop_host(settings.WOOCOMMERCE_URL) or None


def storefront_shop(channel: str) -> str:
    """The shop orders of this storefront are keyed by: from configuration only (DEFAULT_SHOP if unset)."""
    _, shop_domain = _storefront_secrets(channel)
    return get_storefront(channel).shop_key(shop_domain)


def webhook_receive(*, channel: str, headers: Mapping[str, str], body: bytes) -> WebhookResult:
    """Verify, store and process one storefront webhook; a paid order is never lost or doubled.

    Bad signature: SignatureInvalid (401), nothing stored. Signed but unreadable:
    stored as rejected, PayloadInvalid (400). Otherwise the delivery is stored as
    pending in one transaction and processed by a task queued after commit; a
    replay of the same event id is answered with the stored outcome.
    """
    module = get_storefront(channel)
    secrets, shop_domain = _storefront_secrets(channel)
    try:
        delivery = module.verify(headers=headers, body=body, secrets=secrets, shop_domain=shop_domain)
    except (SignatureInvalid, ShopMismatch) as exc:
        logger.warning("webhook refused: channel=%s code=%s detail=%s", channel, exc.code, exc.detail)
        raise
    except PayloadInvalid as exc:
        # The signature was good (it is checked first), so keep what was sent for diagnosis.
        delivery_store_rejected(channel=channel, headers=headers, body=body, error=exc)
        raise
    try:
        incoming = module.parse(delivery)
    except PayloadInvalid as exc:
        delivery_store_rejected(channel=channel, headers=headers, body=body, error=exc, event_id=delivery.event_id)
        raise
    if delivery.topic == "ping":
        # WooCommerce's unsigned ping when a webhook is saved: answer 200, store nothing
        # (an unsigned request must not be able to write rows).
        return WebhookResult(delivery=None, order=None)
    result = delivery_accept(delivery=delivery, incoming=incoming)
    if result.duplicate or result.delivery.status != InboxDelivery.Status.PENDING:
        return result
    if dispatch.tasks_inline():
        # In-process tasks processed the delivery when it was accepted: report that.
        inbox = InboxDelivery.objects.select_related("order").get(pk=result.delivery.pk)
        return WebhookResult(delivery=inbox, order=inbox.order)
    return result


def delivery_store_rejected(
    *, channel: str, headers: Mapping[str, str], body: bytes, error: PayloadInvalid, event_id: str = ""
) -> None:
    """Keep a signed delivery that cannot be read, with its error, for diagnosis (counted once per body)."""
    event_id = event_id or f"sha256:{hashlib.sha256(body).hexdigest()}"
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    topic = lowered.get("x-shopify-topic") or lowered.get("x-wc-webhook-topic") or ""
    with transaction.atomic():
        delivery, created = InboxDelivery.objects.get_or_create(
            channel=channel,
            event_id=event_id[:255],
            defaults={
                "topic": topic[:64],
                "shop": storefront_shop(channel),
                "body": body,
                "status": InboxDelivery.Status.REJECTED,
                "error": f"{error.detail} {error.extra}"[:5000],
                "processed_at": timezone.now(),
                "headers": {
                    k: v
                    for k, v in lowered.items()
                    if k.startswith(("x-shopify-", "x-wc-")) and "hmac" not in k and "signature" not in k
                },
            },
        )
        if not created:
            InboxDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)


def delivery_accept(*, delivery: Delivery, incoming: IncomingOrder | None) -> WebhookResult:
    """Store the delivery as pending and queue its processing once that is committed.

    Outside a transaction the INSERT is one statement and commits by itself: the
    storefront's answer costs one round trip to the database.
    """
    status = InboxDelivery.Status.PENDING if incoming else InboxDelivery.Status.IGNORED
    fields = {
        "channel": delivery.channel,
        "topic": delivery.topic[:64],
        "event_id": delivery.event_id[:255],
        "shop": delivery.shop[:255],
        "body": delivery.body,
        "headers": delivery.headers,
        "status": status,
        "processed_at": None if incoming else timezone.now(),
    }
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint, so a duplicate does not break the caller's transaction
                inbox = InboxDelivery.objects.create(**fields)
        else:
            inbox = InboxDelivery.objects.create(**fields)
    except IntegrityError:
        return _accept_again(delivery)
    if status == InboxDelivery.Status.PENDING:
        transaction.on_commit(functools.partial(dispatch.delivery_enqueue, inbox.pk))
    return WebhookResult(delivery=inbox, order=None)


@transaction.atomic
def _accept_again(delivery: Delivery) -> WebhookResult:
    """The same event id again: a retry, or a concurrent duplicate that committed first."""
    inbox = locks.delivery_lock_by_event(delivery.channel, delivery.event_id[:255])
    inbox.attempts += 1
    if inbox.status != InboxDelivery.Status.FAILED:
        inbox.save(update_fields=["attempts"])
        if inbox.status == InboxDelivery.Status.PENDING and not dispatch.tasks_inline():
            # A drain may have skipped the row while we held its lock: make sure one looks again.
            transaction.on_commit(dispatch.drain_kick)
        return WebhookResult(delivery=inbox, order=inbox.order, duplicate=True)
    # It failed before: the storefront's retry is our replay, with a fresh series of transient retries.
    inbox.status, inbox.error, inbox.failures, inbox.retry_at = InboxDelivery.Status.PENDING, "", 0, None
    inbox.save(update_fields=["attempts", "status", "error", "failures", "retry_at"])
    transaction.on_commit(functools.partial(dispatch.delivery_enqueue, inbox.pk))
    return WebhookResult(delivery=inbox, order=None)
