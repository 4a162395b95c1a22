"""The dashboard in a real headless browser: Debian's Chromium driven by Playwright against the live server.

Log in through the form, read the heatmap's numbers for a known product, check the page logged
no console error, and keep screenshots (laptop and tablet widths) under var/test-artifacts/.
Without Chromium the test is skipped, unless REQUIRE_SERVICES=1 (CI): then it fails.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from inventory import services
from inventory.demo import demo_seed
from inventory.models import Sku, StockLevel, Warehouse
from tests.ops.helpers import PASSWORD, staff_user

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _missing(reason: str):
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason} (apt-get install chromium chromium-driver)")
    pytest.skip(reason)


def _chromium_check() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing(f"no Chromium at {CHROMIUM}")


def _in_thread(work):
    """Run ``work`` in its own thread: Playwright's sync API runs an event loop, where Django's ORM refuses to."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the browser session did not finish in 120 s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _browse(url: str) -> dict:
    """Log in, read the heatmap and take the screenshots; returns what the page showed and any problem."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
        page.on(
            "response",
            lambda response: problems.append(f"{response.status}: {response.url}") if response.status >= 400 else None,
        )
        page.goto(f"{url}/ops/?product=ARCH")
        seen["login_url"] = page.url
        page.fill("#id_username", "olivia")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("table.heat")
        seen["url"] = page.url
        cell = page.locator('td[data-sku="ARCH-EU42"][data-warehouse="EU"]')
        seen["cell"] = {
            name: cell.locator(f'[data-field="{name}"]').inner_text()
            for name in ("available", "reserved", "backordered")
        }
        seen["sizes"] = page.locator("table.heat thead th").all_inner_texts()[1:]
        seen["warehouses"] = page.locator("table.heat tbody th").all_inner_texts()
        seen["alerts"] = page.locator("#alerts tbody tr").count()
        page.wait_for_selector("#stock-chart .uplot canvas")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ops-dashboard-laptop.png"), full_page=True)
        page.set_viewport_size({"width": 768, "height": 1024})  # a tablet on the warehouse floor
        page.screenshot(path=str(ARTIFACTS / "ops-dashboard-tablet.png"), full_page=True)
        seen["overflow"] = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        context.close()
        browser.close()
    seen["problems"] = problems
    return seen


def test_log_in_and_read_the_heatmap_in_a_real_browser(live_server):
    _chromium_check()
    demo_seed()
    eu, sku = Warehouse.objects.get(code="EU"), Sku.objects.get(code="ARCH-EU42")
    services.reservation_create(warehouse=eu, items=[(sku.pk, 3)], reference="order:browser")
    level = StockLevel.objects.get(sku=sku, warehouse=eu)
    staff_user("olivia", "operations")

    seen = _in_thread(lambda: _browse(live_server.url))

    assert "/ops/login/" in seen["login_url"]
    assert seen["url"].startswith(f"{live_server.url}/ops/")
    assert seen["cell"] == {"available": str(level.on_hand - 3), "reserved": "3", "backordered": "0"}
    assert seen["sizes"] == [f"EU {n}" for n in range(35, 49)]
    assert seen["warehouses"] == ["AU", "EU", "US"]
    assert seen["alerts"] > 0  # the demo's thin sizes are in alert
    assert seen["overflow"] <= 0  # the page never scrolls sideways (wide tables scroll in their panel)
    assert seen["problems"] == []
    assert (ARTIFACTS / "ops-dashboard-laptop.png").stat().st_size > 10_000
    assert (ARTIFACTS / "ops-dashboard-tablet.png").stat().st_size > 10_000
