"""Our own outbound webhooks, signed the Standard Webhooks way (https://www.standardwebhooks.com/).

Headers: ``webhook-id`` (stable across retries of one message, so a receiver can dedupe),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with the base64-decoded part
of the subscription's ``whsec_`` secret. The body is ``{"type", "timestamp", "data"}``.

A 2xx is delivered. 410 Gone disables the subscription (the receiver asked us to stop) and
makes a dead letter. Anything else (timeouts, connection errors, 429, 5xx, other 4xx) is
tried again with backoff, obeying Retry-After, until the attempts run out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import requests
from django.conf import settings

from config.http import process_session, retry_after_seconds
from outbox.errors import DeliveryFailed, DeliveryRetry
from outbox.models import Message, WebhookSubscription

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def webhook_sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_id(message: Message) -> str:
    return f"msg_{message.pk}"


def webhook_body(message: Message) -> bytes:
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


def _session() -> requests.Session:
    return process_session("webhooks", user_agent="insoles-fulfilment-webhooks/1")


def webhook_deliver(message: Message) -> None:
    """The outbox handler for kind ``webhook``: POST the signed body to the subscription's URL."""
    subscription = WebhookSubscription.objects.filter(pk=int(message.destination or 0)).first()
    if subscription is None:
        raise DeliveryFailed("the subscription was deleted")
    if not subscription.active:
        raise DeliveryFailed("the subscription is disabled")
    body = webhook_body(message)
    msg_id, timestamp = webhook_id(message), int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_sign(secret=subscription.secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }
    try:
        response = _session().post(
            subscription.url,
            data=body,
            headers=headers,
            timeout=(settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise DeliveryRetry(f"{subscription.url}: {exc.__class__.__name__}: {exc}") from exc
    if 200 <= response.status_code < 300:
        return
    if response.status_code == 410:
        WebhookSubscription.objects.filter(pk=subscription.pk).update(active=False)
        raise DeliveryFailed(f"{subscription.url} answered 410 Gone: subscription disabled")
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    raise DeliveryRetry(
        f"{subscription.url} answered {response.status_code}: {response.text[:200]}", retry_after=retry_after
    )
