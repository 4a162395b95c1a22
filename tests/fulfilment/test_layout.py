"""The package layout's rules, checked on the source: one dispatch point, one lock module, pure storefronts."""

from __future__ import annotations

import ast
from pathlib import Path

import fulfilment

ROOT = Path(fulfilment.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def sources(folder: Path):
    return [path for path in folder.rglob("*.py") if "migrations" not in path.parts]


def test_only_dispatch_imports_the_tasks_or_asks_whether_tasks_run_eagerly():
    offenders = []
    for path in sources(ROOT):
        if path.name in ("dispatch.py", "tasks.py"):
            continue
        if "fulfilment.tasks" in imported_modules(path) or "CELERY_TASK_ALWAYS_EAGER" in path.read_text():
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_row_locks_are_taken_only_in_fulfilment_locks():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources(ROOT)
        if path.name != "locks.py" and "select_for_update" in path.read_text()
    ]
    assert offenders == []


def test_storefront_parsers_are_pure_and_only_the_woocommerce_client_does_http():
    for path in sources(ROOT / "storefronts"):
        imports = imported_modules(path)
        assert not any(name.startswith(("django.db", "fulfilment.models", "django.conf")) for name in imports), path
        if path.name != "woocommerce_client.py":
            assert "requests" not in imports, path


# Every public name of the one-module fulfilment/services.py before the split (settings, tasks, admin,
# commands and other apps refer to them as fulfilment.services.X).
PUBLIC_BEFORE_THE_SPLIT = [
    "ADDRESS_EDITABLE", "AFTER_SHIPPING", "ALLOCATION_ATTEMPTS", "INBOX_KICK_KEY", "INBOX_KICK_PAUSE",
    "INBOX_KICK_TTL", "LINES_EDITABLE", "ReconcileResult", "TRANSITIONS", "WebhookResult", "backorders_fill",
    "backorders_sweep", "inbox_drain", "inbox_process", "inbox_replay", "inbox_sweep", "order_allocate",
    "order_cancel", "order_edit", "order_release_hold", "order_ship", "order_transition", "warehouse_candidates",
    "webhook_receive", "woocommerce_reconcile",
]  # fmt: skip


def test_services_package_keeps_every_public_name_it_had_as_one_module():
    from django.conf import settings
    from django.utils.module_loading import import_string

    from fulfilment import services

    missing = [name for name in PUBLIC_BEFORE_THE_SPLIT if name not in services.__all__ or not hasattr(services, name)]
    assert missing == []
    for path in settings.INVENTORY_STOCK_AVAILABLE_HOOKS:
        assert callable(import_string(path))


def test_the_rekey_migration_moves_orders_of_an_unconfigured_shop_to_the_default_shop(db, settings, capsys):
    import importlib

    from django.apps import apps

    from fulfilment.models import Order

    migration = importlib.import_module("fulfilment.migrations.0008_orders_keyed_by_configured_shop")
    settings.WOOCOMMERCE_URL = ""  # Shopify's domain stays configured: its orders are left alone
    fields = {"channel": "woocommerce", "status": "received"}
    old = Order.objects.create(shop="shop.example", external_id="1", **fields)
    twin = Order.objects.create(shop="www.shop.example", external_id="2", **fields)
    kept = Order.objects.create(shop="default", external_id="2", **fields)
    shopify = Order.objects.create(channel="shopify", shop="insoles-test.myshopify.com", external_id="1")

    migration.rekey(apps, None)

    shops = dict(Order.objects.values_list("pk", "shop"))
    assert shops == {old.pk: "default", twin.pk: "www.shop.example", kept.pk: "default", shopify.pk: shopify.shop}
    assert f"[{twin.pk}]" in capsys.readouterr().out
