"""Fulfilment's services, one module per sub-domain; the public names are re-exported here.

- ``orders``: the state machine, transitions, timeline, attention flag, cancellation
- ``allocation``: warehouse candidates, the pure ``plan()``, booking and reserving a plan
- ``order_sync``: a storefront's version of an order applied to ours (create, update, cancel)
- ``intake``: webhooks, web side (verify, store, accept)
- ``inbox``: webhooks, worker side (process, drain, sweep, replay; transient retries)
- ``backorders``: filling backorders first paid first
- ``holds``: fixing and releasing held orders
- ``waves``: pick waves (claim reserved orders for a picker, cancel, close)
- ``packing``: the pack bench (scan-verified packing, short picks)
- ``documents``: what the pick list and the packing slip print, read in a fixed number of queries
- ``reconcile``: WooCommerce reconciliation
- ``dispatch``: the only module that imports ``fulfilment.tasks`` or knows whether tasks run
  in-process

Locks are taken through ``fulfilment.locks``, in the order written there.
"""

from fulfilment.services.allocation import ALLOCATION_ATTEMPTS, order_allocate, warehouse_candidates
from fulfilment.services.backorders import backorders_fill, backorders_sweep
from fulfilment.services.dispatch import INBOX_KICK_KEY, INBOX_KICK_PAUSE, INBOX_KICK_TTL
from fulfilment.services.documents import packing_slip_data, pick_list_data
from fulfilment.services.holds import order_edit, order_release_hold
from fulfilment.services.inbox import inbox_drain, inbox_process, inbox_replay, inbox_sweep
from fulfilment.services.intake import WebhookResult, webhook_receive
from fulfilment.services.orders import (
    ADDRESS_EDITABLE,
    AFTER_SHIPPING,
    LINES_EDITABLE,
    TRANSITIONS,
    order_attention_set,
    order_cancel,
    order_ship,
    order_transition,
    order_unship,
)
from fulfilment.services.packing import Scan, order_pack, order_short_pick
from fulfilment.services.reconcile import ReconcileResult, woocommerce_reconcile
from fulfilment.services.waves import wave_cancel, wave_close, wave_create

__all__ = [
    "ADDRESS_EDITABLE",
    "AFTER_SHIPPING",
    "ALLOCATION_ATTEMPTS",
    "INBOX_KICK_KEY",
    "INBOX_KICK_PAUSE",
    "INBOX_KICK_TTL",
    "LINES_EDITABLE",
    "TRANSITIONS",
    "ReconcileResult",
    "Scan",
    "WebhookResult",
    "backorders_fill",
    "backorders_sweep",
    "inbox_drain",
    "inbox_process",
    "inbox_replay",
    "inbox_sweep",
    "order_allocate",
    "order_attention_set",
    "order_cancel",
    "order_edit",
    "order_pack",
    "order_release_hold",
    "order_ship",
    "order_short_pick",
    "order_transition",
    "order_unship",
    "packing_slip_data",
    "pick_list_data",
    "warehouse_candidates",
    "wave_cancel",
    "wave_close",
    "wave_create",
    "webhook_receive",
    "woocommerce_reconcile",
]
