"""The order admin writes only through the services: held orders' address and SKUs via order_edit."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from fulfilment.models import Order
from inventory.models import Reservation
from tests.fulfilment.helpers import post_shopify
from tests.fulfilment.payloads import shopify_line, shopify_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def change_form(admin_client, order: Order) -> dict:
    """The admin change form of ``order`` as the browser would post it back, unchanged."""
    response = admin_client.get(reverse("admin:fulfilment_order_change", args=[order.pk]))
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({f"{management.prefix}-{name}": management[name].value() for name in management.fields})
        for line_form in formset.formset.forms:
            data.update({f"{line_form.prefix}-{name}": line_form[name].value() or "" for name in line_form.fields})
    return {k: ("" if v is None else v) for k, v in data.items()}


def test_a_reserved_orders_lines_and_address_cannot_be_edited_in_the_admin(admin_client, world):
    order = Order.objects.get(pk=post_shopify(admin_client).json()["order"]["id"])
    line, address = order.lines.order_by("pk").first(), order.shipping_address
    data = change_form(admin_client, order)
    assert "shipping_address" not in data and not any(key.endswith("-quantity") for key in data)
    # A hand-made post with the fields anyway: ignored, nothing changes.
    data.update({"shipping_address": '{"country_code": "US"}', "lines-0-quantity": "99", "lines-0-sku_code": "X"})
    data["lines-0-requires_shipping"] = ""
    response = admin_client.post(reverse("admin:fulfilment_order_change", args=[order.pk]), data)
    assert response.status_code == 302
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.shipping_address == address and order.status == "reserved"
    assert (line.quantity, line.sku_code, line.requires_shipping) == (1, "ARCH-EU42", True), line
    assert Reservation.objects.count() == 2


def test_a_held_orders_address_and_skus_are_edited_through_order_edit_and_it_stays_held(admin_client, world):
    payload = shopify_order(line_items=[shopify_line(sku="NOPE-EU42", quantity=1)])
    payload["shipping_address"]["city"] = ""
    order = Order.objects.get(pk=post_shopify(admin_client, payload).json()["order"]["id"])
    assert order.status == "on_hold"
    data = change_form(admin_client, order)
    data["shipping_address"] = data["shipping_address"].replace('"city": ""', '"city": "Berlin"')
    data["lines-0-sku_code"] = "ARCH-EU42"
    data["needs_attention"] = "customer called"

    response = admin_client.post(reverse("admin:fulfilment_order_change", args=[order.pk]), data)

    assert response.status_code == 302
    order.refresh_from_db()
    line = order.lines.get()
    assert order.shipping_address["city"] == "Berlin" and order.status == "on_hold"
    assert (line.sku_code, line.sku.code, line.sku_edited) == ("ARCH-EU42", "ARCH-EU42", True)
    assert order.needs_attention == "customer called"
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds.count("edited") == 2 and "attention" in kinds
    assert not Reservation.objects.exists()  # order_edit never allocates: release-hold does


@pytest.mark.parametrize(
    "address",
    ['{"country_code": null}', '{"country_code": "Germany"}', '"Berlin"', "[1, 2]", '{"city": 5}', '{"zip": "x"}'],
)
def test_a_bad_address_in_the_admin_is_a_form_error_and_changes_nothing(admin_client, world, address):
    payload = shopify_order(line_items=[shopify_line(sku="NOPE-EU42", quantity=1)])
    order = Order.objects.get(pk=post_shopify(admin_client, payload).json()["order"]["id"])
    before = order.shipping_address
    data = change_form(admin_client, order)
    data["shipping_address"] = address

    response = admin_client.post(reverse("admin:fulfilment_order_change", args=[order.pk]), data)

    assert response.status_code == 200 and response.context["adminform"].form.errors["shipping_address"]
    order.refresh_from_db()
    assert order.shipping_address == before and not order.events.filter(kind="edited").exists()


def test_a_field_deleted_from_the_address_in_the_admin_is_cleared(admin_client, world):
    payload = shopify_order(line_items=[shopify_line(sku="NOPE-EU42", quantity=1)])
    order = Order.objects.get(pk=post_shopify(admin_client, payload).json()["order"]["id"])
    data = change_form(admin_client, order)
    address = {k: v for k, v in order.shipping_address.items() if k != "address2"}
    data["shipping_address"] = json.dumps(address)

    assert admin_client.post(reverse("admin:fulfilment_order_change", args=[order.pk]), data).status_code == 302
    order.refresh_from_db()
    assert order.shipping_address["address2"] == "" and order.shipping_address["city"] == address["city"]


def test_pick_waves_are_shown_read_only_in_the_admin(admin_client, world, client_for):
    order_id = post_shopify(admin_client).json()["order"]["id"]
    wave = client_for("warehouse", "picker-1").post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    listing = admin_client.get(reverse("admin:fulfilment_pickwave_changelist"))
    assert listing.status_code == 200 and "picker-1" in listing.content.decode()
    page = admin_client.get(reverse("admin:fulfilment_pickwave_change", args=[wave["id"]]))
    assert page.status_code == 200 and str(Order.objects.get(pk=order_id)) in page.content.decode()
    posted = admin_client.post(reverse("admin:fulfilment_pickwave_change", args=[wave["id"]]), {"status": "closed"})
    assert posted.status_code == 403
    assert admin_client.get(reverse("admin:fulfilment_pickwave_add")).status_code == 403
