"""Push-back's pure parts: which fulfillment order line items carry a shipment, the status mapping, the URL."""

from __future__ import annotations

import pytest

from shipping.services.pushback import fulfillment_plan, shopify_event_status
from shipping.storefronts.errors import StorefrontRefused
from shipping.storefronts.shopify import graphql_endpoint, throttle_wait


def _fo(fo_id, status, items, location="gid://shopify/Location/1"):
    return {
        "id": f"gid://shopify/FulfillmentOrder/{fo_id}",
        "status": status,
        "assignedLocation": {"location": {"id": location}},
        "lineItems": {
            "nodes": [
                {
                    "id": f"gid://shopify/FulfillmentOrderLineItem/{i}",
                    "remainingQuantity": r,
                    "lineItem": {"id": f"gid://shopify/LineItem/{li}", "sku": sku},
                }
                for i, li, sku, r in items
            ]
        },
    }


def test_the_fulfillment_plan_takes_only_our_units_by_line_item_then_sku():
    ours = [{"line_item": "11", "sku": "A", "quantity": 2}, {"line_item": "", "sku": "B", "quantity": 1}]
    plan = fulfillment_plan([_fo(1, "OPEN", [(101, 11, "A", 3), (102, 12, "B", 1), (103, 13, "C", 1)])], ours)
    assert not plan.closed and plan.detail == ""
    assert plan.line_items == [
        {
            "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1",
            "fulfillmentOrderLineItems": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/101", "quantity": 2},
                {"id": "gid://shopify/FulfillmentOrderLineItem/102", "quantity": 1},
            ],
        }
    ]
    # One unit fulfilled by hand already: the rest is fulfilled, and the detail says so.
    partial = fulfillment_plan([_fo(1, "IN_PROGRESS", [(101, 11, "A", 1)])], ours[:1])
    assert partial.line_items[0]["fulfillmentOrderLineItems"] == [
        {"id": "gid://shopify/FulfillmentOrderLineItem/101", "quantity": 1}
    ]
    assert "1 shipped units" in partial.detail
    assert fulfillment_plan([_fo(1, "CLOSED", [(101, 11, "A", 0)])], ours).closed
    with pytest.raises(StorefrontRefused, match="release the hold"):
        fulfillment_plan([_fo(1, "ON_HOLD", [(101, 11, "A", 2)])], ours[:1])
    with pytest.raises(StorefrontRefused, match="several Shopify locations"):
        fulfillment_plan(
            [
                _fo(1, "OPEN", [(101, 11, "A", 2)]),
                _fo(2, "OPEN", [(201, 12, "B", 1)], location="gid://shopify/Location/2"),
            ],
            ours,
        )
    with pytest.raises(StorefrontRefused, match="none of the shipped line items"):
        fulfillment_plan([_fo(1, "OPEN", [(101, 77, "Z", 2)])], ours[:1])


def test_status_mapping_follows_the_configured_api_version(settings):
    assert shopify_event_status("in_transit") == "IN_TRANSIT"
    assert shopify_event_status("attempt_failed") == "ATTEMPTED_DELIVERY"
    assert shopify_event_status("available_for_pickup") == "READY_FOR_PICKUP"
    assert shopify_event_status("exception") == "FAILURE"
    assert shopify_event_status("returning_to_sender") is None
    assert shopify_event_status("picked_up") == "CARRIER_PICKED_UP"
    settings.SHOPIFY_API_VERSION = "2025-07"
    assert shopify_event_status("picked_up") is None  # CARRIER_PICKED_UP is new in 2025-10
    settings.SHOPIFY_API_VERSION = "2025-10"
    settings.SHOPIFY_ADMIN_URL = "https://shop.myshopify.com/admin/api/2025-07"  # the URL's version is the one used
    assert shopify_event_status("picked_up") is None
    settings.SHOPIFY_ADMIN_URL = "https://shop.myshopify.com/admin/api/2025-10/graphql.json"
    assert shopify_event_status("picked_up") == "CARRIER_PICKED_UP"


def test_the_graphql_endpoint_is_the_versioned_admin_base_plus_graphql_json():
    base = "https://shop.myshopify.com"
    assert graphql_endpoint(f"{base}/admin/api/2025-10", "2025-10") == f"{base}/admin/api/2025-10/graphql.json"
    assert graphql_endpoint(f"{base}/admin/api/2025-10/", "2025-07") == f"{base}/admin/api/2025-10/graphql.json"
    assert graphql_endpoint(base, "2025-10") == f"{base}/admin/api/2025-10/graphql.json"
    assert graphql_endpoint(f"{base}/admin", "2025-10") == f"{base}/admin/api/2025-10/graphql.json"
    assert graphql_endpoint(f"{base}/admin/api", "2025-10") == f"{base}/admin/api/2025-10/graphql.json"
    assert graphql_endpoint(f"{base}/admin/api/2025-10/graphql.json", "x") == f"{base}/admin/api/2025-10/graphql.json"


def test_the_throttle_wait_is_what_the_bucket_needs_to_hold_the_query_again():
    cost = {
        "requestedQueryCost": 752,
        "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0},
    }
    assert throttle_wait({"extensions": {"cost": cost}}) == pytest.approx(1.72)
    assert throttle_wait({"extensions": {"cost": {**cost, "requestedQueryCost": 10}}}) == 1.0  # at least a second
    assert throttle_wait({"errors": []}) is None
