"""The courier sandbox: a real HTTP server speaking DHL Express (MyDHL API), Australia Post
(Shipping and Tracking v1), FedEx REST and UPS REST, each under ``/<courier code>/``.

Start it with ``python manage.py courier_sandbox --port 8900`` (``--host``, ``--key``,
``--secret``, ``--advance-every``) or in-process::

    from shipping.sandbox import SandboxServer

    with SandboxServer(port=0, key="sandbox", secret="sandbox-secret", advance_every=0) as sandbox:
        sandbox.base_url("fedex")  # http://127.0.0.1:PORT/fedex

Couriers (base URL ``http://HOST:PORT/<code>``; paths as the couriers' own APIs):

- ``dhl_express``: Basic key:secret. ``POST /shipments``, ``GET /tracking``
  (``shipmentTrackingNumber`` repeated, up to 200, or ``shipmentReference`` +
  ``shipperAccountNumber``), ``GET /shipments/{n}/tracking``. No void (DHL has none).
- ``auspost``: Basic key:secret and a non-empty ``Account-Number``. ``POST|GET
  /shipping/v1/shipments`` (``?offset=&number_of_shipments=&sender_reference=``), ``GET|DELETE
  /shipping/v1/shipments/{id}``, ``POST /shipping/v1/labels``, ``GET
  /shipping/v1/labels/{request_id}``, ``GET /shipping/v1/track?tracking_ids=A,B`` (up to 10),
  ``POST|PUT /shipping/v1/orders``, ``GET /shipping/v1/accounts/{account}/orders/{id}/summary``;
  label files (no auth) under ``/auspost/_labels/``.
- ``fedex``: ``POST /oauth/token`` (form: grant_type=client_credentials, client_id=key,
  client_secret=secret), then Bearer. ``POST /ship/v1/shipments``, ``PUT
  /ship/v1/shipments/cancel``, ``POST /track/v1/trackingnumbers`` (up to 30), ``POST
  /track/v1/referencenumbers``.
- ``ups``: ``POST /security/v1/oauth/token`` (Basic key:secret, form
  grant_type=client_credentials), then Bearer. ``POST /api/shipments/{version}/ship``,
  ``DELETE /api/shipments/{version}/void/cancel/{id}``, ``GET /api/track/v1/details/{number}``
  and ``GET /api/track/v1/reference/details/{reference}`` (both need ``transId`` and
  ``transactionSrc`` headers).

Tokens expire after ``token_ttl`` seconds (default 3600, the ``expires_in`` answered). Wrong
credentials get the courier's own 401. A receiver with postcode ``00000`` or an address line
containing ``REJECT`` is refused with the courier's own 400; missing required fields (receiver
postcode, weight, ...) likewise (DHL: 422 for schema errors). Shipments live in memory.

Tracking moves one step at a time along label_created -> picked_up -> in_transit ->
out_for_delivery -> delivered, in each courier's own codes: every ``advance_every`` seconds
since a shipment's last event (default 60; 0 = only on command), or on ``POST
/_sandbox/advance``. FedEx and UPS refuse a cancel/void after the pickup step; Australia
Post refuses a delete once the shipment is in an order.

Control API (JSON; ``courier`` is a courier code; no auth):

``POST /_sandbox/faults``
    ``{"courier": "fedex", "path": "/ship/v1/shipments", "mode": "...", "seconds": 2.0,
    "status": 503, "count": 1}``. ``courier`` omitted = every courier; ``path`` is a prefix of
    the path relative to the courier (omitted = every path); ``count`` is how many calls it
    applies to (default 1; 0 = until cleared). Modes:

    - ``latency``: sleep ``seconds``, then answer normally.
    - ``rate_limit``: answer 429 in the courier's shape with ``Retry-After: seconds``.
    - ``error``: answer ``status`` (a 5xx, default 503) in the courier's shape.
    - ``hang``: sleep ``seconds`` before doing anything, then close the connection without
      an answer (nothing is done).
    - ``drop``: do the request (a booking is made), then sleep ``seconds`` and close the
      connection without an answer: the ambiguous booking.

    Answers 201 ``{"fault": {...}}``. ``GET /_sandbox/faults`` lists them.
``DELETE /_sandbox/faults[?courier=]``
    Clears faults. ``{"cleared": n}``.
``POST /_sandbox/advance``
    ``{"courier"?: "...", "tracking_number"?: "...", "steps": 1}``: moves matching live
    shipments ``steps`` events along. ``{"advanced": [{"courier", "tracking_number", "status"}]}``.
``POST /_sandbox/push``
    ``{"courier": "ups" | "fedex", "tracking_number": "...", "url": "http://.../webhooks/couriers/ups",
    "secret"?: "...", "all"?: false}``: POSTs the courier's own push for that shipment to ``url``,
    signed with ``secret`` (default: the server's ``push_secret``, itself defaulting to its
    ``secret``): UPS Track Alert, one event per POST (the latest, or every one with ``all``) with
    the ``credential`` header; FedEx, the number's tracking result with ``fdx-signature``
    (base64 HMAC-SHA256 of the body). Answers ``{"pushed": [{"status", "body"}]}`` (our answers).
``GET /_sandbox/calls[?courier=]``
    Every courier API call seen, oldest first: ``{"calls": [{"courier", "method", "path",
    "query", "time" (epoch seconds), "status", "fault"?}]}``.
``GET /_sandbox/shipments[?courier=]``
    ``{"shipments": [{"courier", "courier_id", "tracking_number", "pieces", "references",
    "account", "status", "events", "created_at", "voided", "voided_at", "order_id", "extra"}]}``.
``POST /_sandbox/tokens/expire[?courier=]``
    Expires the OAuth tokens issued so far (to exercise a refresh).
``POST /_sandbox/reset``
    Forgets shipments, tokens, faults and calls.
``GET /_sandbox/``
    The couriers' base URLs and this list.
"""

from .server import COURIER_APIS, SandboxServer

__all__ = ["COURIER_APIS", "SandboxServer"]
