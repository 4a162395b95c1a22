import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from knox.models import AuthToken

from inventory.catalogue import gtin_is_valid
from inventory.models import Bin, Product, Size, Sku, StockLevel, StockMovement, Warehouse
from tests.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

HEADER = "product_code,product_name,size_system,size,sku,barcode,warehouse,bin,on_hand,reorder_point,hs_code,weight_g\n"
GOOD = (
    "ARCH,ArchPro Support,EU,42,ARCH-EU42,4006381333931,EU,A08,30,10,6406.90,85\n"
    "ARCH,ArchPro Support,EU,43,ARCH-EU43,,EU,A09,12,10,6406.90,88\n"
    "ARCH,ArchPro Support,EU,42,ARCH-EU42,4006381333931,US,B01,7,5,6406.90,85\n"
)


@pytest.fixture
def warehouses():
    return WarehouseFactory(code="EU"), WarehouseFactory(code="US", country="US")


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "catalogue.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_creates_catalogue_and_stock_with_ledger(tmp_path, warehouses):
    out, _ = run("import_catalogue", str(write(tmp_path, GOOD)))

    assert "3 rows" in out
    sku = Sku.objects.select_related("product", "size").get(code="ARCH-EU42")
    assert (sku.product.name, sku.size.system, sku.size.label, sku.barcode, sku.weight_g) == (
        "ArchPro Support",
        "EU",
        "42",
        "4006381333931",
        85,
    )
    levels = {
        (lv.sku.code, lv.warehouse.code): (lv.on_hand, lv.reorder_point, lv.bin.code) for lv in StockLevel.objects.all()
    }
    assert levels == {
        ("ARCH-EU42", "EU"): (30, 10, "A08"),
        ("ARCH-EU43", "EU"): (12, 10, "A09"),
        ("ARCH-EU42", "US"): (7, 5, "B01"),
    }
    assert sorted(StockMovement.objects.values_list("kind", "quantity")) == [("count", 7), ("count", 12), ("count", 30)]
    run("verify_stock")


def test_reimport_is_idempotent_and_updates_changed_values(tmp_path, warehouses):
    path = write(tmp_path, GOOD)
    run("import_catalogue", str(path))
    run("import_catalogue", str(path))
    assert StockMovement.objects.count() == 3
    assert Sku.objects.count() == 2 and Bin.objects.count() == 3

    path.write_text(HEADER + GOOD.replace(",30,10,", ",25,10,").replace(",6406.90,85", ",6406.90,90"), encoding="utf-8")
    run("import_catalogue", str(path))
    assert StockLevel.objects.get(sku__code="ARCH-EU42", warehouse__code="EU").on_hand == 25
    assert Sku.objects.get(code="ARCH-EU42").weight_g == 90
    assert StockMovement.objects.filter(kind="count", quantity=-5).count() == 1
    run("verify_stock")


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_applied(tmp_path, warehouses):
    bad = GOOD + (
        "ARCH,ArchPro Support,EU,44,ARCH-EU44,123,EU,,5,1,6406.90,80\n"  # line 5: bad GTIN
        "ARCH,ArchPro Support,XX,45,ARCH-EU45,,EU,,5,1,6406.90,80\n"  # line 6: bad size system
        "ARCH,ArchPro Support,EU,46,ARCH-EU46,,MARS,,5,1,6406.90,80\n"  # line 7: unknown warehouse
        "ARCH,ArchPro Support,EU,47,ARCH-EU47,,EU,,-1,1,6406.90,80\n"  # line 8: negative on_hand
        "ARCH,ArchPro Support,EU,48,ARCH-EU48,,EU,,5,1,6406.90,\n"  # line 9: missing weight
    )
    with pytest.raises(CommandError, match="4 bad rows; nothing was imported"):
        run("import_catalogue", str(write(tmp_path, bad)))
    # Row-level errors are found before warehouse look-ups; fix them and the unknown warehouse is reported.
    assert not Product.objects.exists() and not StockMovement.objects.exists() and not Size.objects.exists()


def test_errors_name_the_line(tmp_path, warehouses):
    bad = GOOD + "ARCH,ArchPro Support,EU,46,ARCH-EU46,,MARS,,5,1,6406.90,80\n"
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_catalogue", str(write(tmp_path, bad)), stderr=err, stdout=io.StringIO())
    assert "catalogue.csv:5: unknown warehouse 'MARS'" in err.getvalue()
    assert not Sku.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ARCH,ArchPro Support,EU,44,ARCH-EU44,123,EU,,5,1,6406.90,80", "barcode '123' is not a valid GTIN"),
        ("ARCH,ArchPro Support,XX,45,ARCH-EU45,,EU,,5,1,6406.90,80", "size_system must be one of"),
        ("ARCH,ArchPro Support,EU,47,ARCH-EU47,,EU,,-1,1,6406.90,80", "on_hand must be at least 0"),
        ("ARCH,ArchPro Support,EU,48,ARCH-EU48,,EU,,5,1,6406.90,", "weight_g is required"),
        ("ARCH,ArchPro Support,EU,48,ARCH-EU48,,EU,,five,1,6406.90,80", "on_hand must be a whole number"),
        ("ARCH,ArchPro Support,EU,44,ARCH-EU43,,US,,5,1,6406.90,88", "sku ARCH-EU43 is ARCH/EU/43 on line 3"),
        ("ARCH,ArchPro Support,EU,43,ARCH-EU43,,US,,5,1,6406.90,99", "sku ARCH-EU43 has weight_g 88 on line 3"),
        (
            "ARCH,ArchPro Support,EU,42,ARCH-EU42,,EU,,5,1,6406.90,80",
            "sku ARCH-EU42 in warehouse EU already given on line 2",
        ),
        (
            "RUN,Run,EU,42,RUN-EU42,4006381333931,EU,,5,1,6406.90,80",
            "barcode 4006381333931 already belongs to sku ARCH-EU42 (line 2)",
        ),
        ("ARCH,ArchPro Support,EU,48,ARCH-EU48,,EU,,5,1,64,80", "hs_code '64' must be 6 to 10 digits"),
    ],
)
def test_each_kind_of_bad_row_is_reported_at_line_5(tmp_path, warehouses, row, message):
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 bad rows"):
        call_command("import_catalogue", str(write(tmp_path, GOOD + row + "\n")), stderr=err, stdout=io.StringIO())
    assert f"catalogue.csv:5: {message}" in err.getvalue()
    assert not Sku.objects.exists()


def test_missing_columns_and_missing_file(tmp_path, warehouses):
    path = tmp_path / "short.csv"
    path.write_text("product_code,sku\nA,B\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_catalogue", str(path), stderr=err, stdout=io.StringIO())
    assert "short.csv:1: missing columns: product_name, size_system" in err.getvalue()
    with pytest.raises(CommandError, match="no such file"):
        run("import_catalogue", str(tmp_path / "absent.csv"))


def test_reimport_below_reserved_is_a_bad_row(tmp_path, warehouses):
    from inventory import services

    path = write(tmp_path, GOOD)
    run("import_catalogue", str(path))
    sku = Sku.objects.get(code="ARCH-EU42")
    services.reservation_create(warehouse=warehouses[0], items=[(sku.pk, 20)], reference="order:1")

    path.write_text(HEADER + GOOD.replace(",30,10,", ",10,10,", 1).replace(",12,10,", ",11,10,"), encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_catalogue", str(path), stderr=err, stdout=io.StringIO())
    assert "catalogue.csv:2: on_hand 10 is below the 20 units reserved" in err.getvalue()
    # The good row (line 3) was not applied either.
    assert StockLevel.objects.get(sku__code="ARCH-EU43").on_hand == 12


def test_gtin_check_digit():
    assert gtin_is_valid("4006381333931")
    assert not gtin_is_valid("4006381333932")
    assert gtin_is_valid("96385074")
    assert not gtin_is_valid("abcdefgh")


def test_seed_demo_is_idempotent_and_consistent():
    run("seed_demo")
    first = (Sku.objects.count(), StockMovement.objects.count(), Warehouse.objects.count())
    run("seed_demo")
    assert (Sku.objects.count(), StockMovement.objects.count(), Warehouse.objects.count()) == first
    assert first == (56, 168, 3)
    assert set(Warehouse.objects.values_list("code", flat=True)) == {"AU", "EU", "US"}
    eu42 = Size.objects.get(system="EU", label="42")
    assert sorted((s.system, s.label) for s in eu42.equivalents.all()) == [("UK", "8"), ("US-M", "9"), ("US-W", "10.5")]
    au_zones = dict(Warehouse.objects.get(code="AU").zones.values_list("zone", "priority"))
    assert au_zones == {"R:OC": 1, "R:AS": 1, "*": 9}
    run("verify_stock")


def test_seed_demo_does_not_reset_live_stock():
    run("seed_demo")
    level = StockLevel.objects.get(sku__code="ARCH-EU42", warehouse__code="EU")
    from inventory import services

    services.stock_receive(sku=level.sku, warehouse=level.warehouse, quantity=5)
    run("seed_demo")
    level.refresh_from_db()
    assert level.on_hand == 75


def test_issue_token_prints_a_working_token_as_the_last_line(api_client):
    WarehouseFactory(code="EU")
    out, _ = run("issue_token", "alice", "--role", "warehouse")
    last = out.strip().splitlines()[-1]
    assert last.startswith("Authorization: Token ")
    token = last.removeprefix("Authorization: Token ")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/warehouses/").status_code == 200
    # Only a hash is stored.
    assert not AuthToken.objects.filter(digest=token).exists()

    run("issue_token", "alice", "--role", "warehouse")
    assert AuthToken.objects.filter(user__username="alice").count() == 2


def test_issue_token_refuses_unknown_role():
    with pytest.raises(CommandError):
        run("issue_token", "bob", "--role", "pirate")


def test_verify_stock_exits_non_zero_on_mismatch(tmp_path, warehouses):
    run("import_catalogue", str(write(tmp_path, GOOD)))
    StockLevel.objects.filter(sku__code="ARCH-EU43").update(on_hand=13)
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 stock mismatches"):
        call_command("verify_stock", stderr=err, stdout=io.StringIO())
    assert "ARCH-EU43@EU: on_hand is 13 but the ledger says 12" in err.getvalue()
