"""inventory.services is a package by sub-domain; every name callers used before the split still imports."""

from pathlib import Path

from inventory import services

PUBLIC = [
    "RECEIPT_LINES_MAX",
    "CatalogueImportResult",
    "ReceiptLine",
    "StockMismatch",
    "bins_import",
    "catalogue_import",
    "reservation_commit",
    "reservation_create",
    "reservation_release",
    "reservation_uncommit",
    "reservation_write_off",
    "size_sort_order",
    "stock_adjust",
    "stock_count",
    "stock_level_get",
    "stock_receipt_create",
    "stock_receive",
    "stock_verify",
]
ROOT = Path(__file__).resolve().parents[2]


def test_the_services_package_re_exports_every_public_name():
    assert sorted(services.__all__) == sorted(PUBLIC)
    assert all(callable(getattr(services, name)) or name.isupper() for name in PUBLIC)


def test_no_module_of_the_service_grows_past_800_lines():
    """House style: a module past ~800 lines becomes a package by sub-domain."""
    long = []
    for app in ("config", "fulfilment", "inventory", "labels", "shipping"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and len(path.read_text().splitlines()) > 800:
                long.append(str(path.relative_to(ROOT)))
    assert long == []
