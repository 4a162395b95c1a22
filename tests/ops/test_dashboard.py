"""/ops/: who may see it, what each panel shows, and a bounded number of queries."""

from __future__ import annotations

import json
import re
import sys
import types

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import Sku, StockLevel, Warehouse
from ops import selectors
from tests.inventory.fixtures import demo, ledger_row  # noqa: F401  (module-scoped demo catalogue)
from tests.ops.helpers import PASSWORD, dead_letter, order_on_hold, staff_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]


@pytest.fixture
def ops_client(client):
    staff_user("olivia", "operations")
    assert client.login(username="olivia", password=PASSWORD)
    return client


def _cell(html: str, sku: str, warehouse: str) -> dict[str, int]:
    match = re.search(rf'data-sku="{sku}" data-warehouse="{warehouse}".*?</td>', html, re.S)
    assert match, (sku, warehouse)
    fields = dict(re.findall(r'data-field="(\w+)">([-\d,]+)<', match.group(0)))
    return {name: int(value.replace(",", "")) for name, value in fields.items()}


def test_the_home_page_links_the_dashboard_the_api_docs_and_the_admin(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for href in ('href="/ops/"', 'href="/api/docs/"', 'href="/admin/"'):
        assert href in html


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get("/ops/?product=ARCH")
    assert response.status_code == 302
    assert response["Location"] == "/ops/login/?next=/ops/%3Fproduct%3DARCH"


def test_a_storefront_token_sees_no_dashboard(client_for):
    response = client_for("storefront").get("/ops/")
    assert response.status_code == 302 and response["Location"].startswith("/ops/login/")


def test_a_storefront_account_cannot_log_in_and_one_without_a_dashboard_role_gets_403(client):
    staff_user("shopify-bot", "storefront")
    response = client.post("/ops/login/", {"username": "shopify-bot", "password": PASSWORD})
    assert response.status_code == 200 and "no operations or warehouse role" in response.content.decode()
    assert "_auth_user_id" not in client.session
    client.force_login(staff_user("nobody"))
    assert client.get("/ops/").status_code == 403


def test_a_django_staff_user_without_a_role_may_use_the_dashboard(client):
    user = staff_user("stella")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    response = client.post("/ops/login/", {"username": "stella", "password": PASSWORD, "next": "/ops/"})
    assert response.status_code == 302 and response["Location"] == "/ops/"
    assert client.get("/ops/").status_code == 200
    user.is_active = False  # a deactivated staff account does not
    user.save(update_fields=["is_active"])
    assert client.get("/ops/").status_code == 302  # logged out: inactive users have no session


@pytest.mark.parametrize("role", ["operations", "warehouse"])
def test_staff_log_in_through_the_form_and_land_on_the_dashboard(client, role):
    staff_user(f"{role}-person", role)
    response = client.post("/ops/login/", {"username": f"{role}-person", "password": PASSWORD, "next": "/ops/"})
    assert response.status_code == 302 and response["Location"] == "/ops/"
    assert client.get("/ops/").status_code == 200
    assert client.post("/ops/logout/").status_code == 302
    assert client.get("/ops/").status_code == 302


def test_the_heatmap_shows_each_cell_with_sizes_in_their_system_in_natural_order(
    ops_client, django_capture_on_commit_callbacks
):
    eu, arch = Warehouse.objects.get(code="EU"), Sku.objects.get(code="ARCH-EU42")
    with django_capture_on_commit_callbacks(execute=True):
        services.reservation_create(warehouse=eu, items=[(arch.pk, 3)], reference="order:heat")
    level = StockLevel.objects.get(sku=arch, warehouse=eu)
    html = ops_client.get("/ops/", {"product": "ARCH"}).content.decode()
    assert _cell(html, "ARCH-EU42", "EU") == {"available": level.on_hand - 3, "reserved": 3, "backordered": 0}
    headers = re.findall(r'<th scope="col">(EU \d+)</th>', html)
    assert headers == [f"EU {n}" for n in range(35, 49)]
    rows = re.findall(r'<th scope="row">(\w+)</th>', html)
    assert rows == ["AU", "EU", "US"]
    assert "band-" in html and "no demand" in html


def test_every_panel_renders_in_a_bounded_number_of_queries(ops_client, django_assert_max_num_queries):
    order = order_on_hold()
    message = dead_letter()
    with django_assert_max_num_queries(22):
        response = ops_client.get("/ops/", {"product": "RUN"})
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/admin/fulfilment/order/{order.pk}/change/"' in html and "unknown_sku" in html
    assert f'href="/admin/outbox/message/{message.pk}/change/"' in html and "subscriber down" in html
    assert "Open alerts" in html and "RUN-EU" in html


def test_open_alerts_are_listed(ops_client):
    from inventory import alerts

    StockLevel.objects.filter(sku__code="WORK-EU44", warehouse__code="US").update(reorder_point=500)
    alerts.stock_alerts_sweep()
    html = ops_client.get("/ops/").content.decode()
    section = html[html.index('id="alerts"') : html.index('id="orders"')]
    assert "WORK-EU44" in section and "Low stock" in section


def test_the_stock_chart_comes_from_the_ledger_per_day(ops_client):
    arch, eu = Sku.objects.get(code="ARCH-EU40"), Warehouse.objects.get(code="EU")
    now = timezone.now()
    level = StockLevel.objects.get(sku=arch, warehouse=eu)
    # Book ledger rows in the past (without moving the level) and read the history back.
    ledger_row(kind="receipt", quantity=7, sku=arch, warehouse=eu, at=now - timezone.timedelta(days=3))
    ledger_row(kind="reservation", quantity=2, sku=arch, warehouse=eu, at=now - timezone.timedelta(days=1))
    history = selectors.stock_history(sku=arch, now=now)
    assert len(history["days"]) == selectors.CHART_DAYS and history["days"][-1] == timezone.localdate(now).isoformat()
    series = {s["warehouse"]: s["values"] for s in history["series"]}
    assert set(series) == {"AU", "EU", "US"}
    today = level.available
    assert series["EU"][-1] == today
    # End of yesterday: before today's seed count (on hand from 0); then each day undoes the next.
    assert series["EU"][-2] == today - level.on_hand
    assert series["EU"][-3] == series["EU"][-2] + 2  # before yesterday's reservation of 2
    assert series["EU"][-4] == series["EU"][-3]  # nothing two days ago
    assert series["EU"][-5] == series["EU"][-4] - 7  # before the receipt of 7 three days ago
    html = ops_client.get("/ops/", {"product": "ARCH", "sku": "ARCH-EU40"}).content.decode()
    data = json.loads(
        re.search(r'<script id="stock-chart-data" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert {s["warehouse"] for s in data["series"]} == {"AU", "EU", "US"}


def test_the_shipments_panel_appears_only_when_shipping_provides_it(ops_client, monkeypatch):
    assert 'id="shipments"' not in ops_client.get("/ops/").content.decode() or hasattr(
        sys.modules.get("shipping.selectors"), "shipments_in_trouble"
    )
    fake = types.ModuleType("shipping.selectors")
    fake.shipments_in_trouble = lambda *, limit: [
        types.SimpleNamespace(
            id=7,
            order_id=order_on_hold("5002").pk,
            courier="fedex",
            status="exception",
            tracking_number="794600000007",
            status_detail="Address unknown",
            updated_at=timezone.now(),
        )
    ][:limit]
    monkeypatch.setitem(sys.modules, "shipping.selectors", fake)
    html = ops_client.get("/ops/").content.decode()
    assert 'id="shipments"' in html and "794600000007" in html and "Address unknown" in html
    monkeypatch.setitem(sys.modules, "shipping.selectors", types.ModuleType("shipping.selectors"))
    assert 'id="shipments"' not in ops_client.get("/ops/").content.decode()


def test_an_unknown_product_or_sku_is_shown_as_nothing_not_an_error(ops_client):
    response = ops_client.get("/ops/", {"product": "NOPE", "sku": "NOPE-1"})
    assert response.status_code == 200
    assert "No SKU to chart" in response.content.decode()
    assert ops_client.get("/ops/", {"product": "A\x00"}).status_code == 200


def test_a_shipment_in_exception_is_listed_with_its_courier_message(ops_client):
    from shipping.models import Shipment

    order = order_on_hold("5003")
    Shipment.objects.create(
        order=order,
        warehouse=Warehouse.objects.get(code="EU"),
        courier="fedex",
        service="express",
        status="exception",
        status_detail="Customer not available; held at depot",
        tracking_number="794600000099",
        booked_at=timezone.now(),
        last_event_at=timezone.now(),
    )
    html = ops_client.get("/ops/").content.decode()
    section = html[html.index('id="shipments"') : html.index('id="chart"')]
    assert "794600000099" in section and "held at depot" in section and "fedex" in section
    assert f'href="/admin/fulfilment/order/{order.pk}/change/"' in section
