"""import_bins: bins and their walk order from CSV, all rows or none, errors as FILE:LINE: message."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from inventory.models import Bin, Warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def warehouses():
    return [
        Warehouse.objects.create(code=code, name=code, country=country, express_cutoff="14:00")
        for code, country in (("AU", "AU"), ("EU", "NL"))
    ]


def write(tmp_path, text: str):
    path = tmp_path / "bins.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_creates_then_updates_walk_order(tmp_path, warehouses, capsys):
    call_command("import_bins", write(tmp_path, "warehouse,bin,walk_sequence\nAU,A-10,20\nau,A-2,10\nEU,Z-1,5\n"))
    assert sorted(Bin.objects.values_list("warehouse__code", "code", "walk_sequence")) == [
        ("AU", "A-10", 20),
        ("AU", "A-2", 10),
        ("EU", "Z-1", 5),
    ]
    call_command("import_bins", write(tmp_path, "warehouse,bin,walk_sequence\nAU,A-10,1\nAU,A-2,10\n"))
    assert "'created': 0, 'updated': 1, 'unchanged': 1" in capsys.readouterr().out
    assert Bin.objects.get(code="A-10").walk_sequence == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("warehouse,bin\nAU,A\n", "bins.csv:1: missing columns: walk_sequence"),
        ("warehouse,bin,walk_sequence\nAU,A,1\nXX,B,2\n", "bins.csv:3: unknown warehouse 'XX'"),
        ("warehouse,bin,walk_sequence\nAU,A,1\nAU,B,٣\n", "bins.csv:3: walk_sequence must be a whole number"),
        ("warehouse,bin,walk_sequence\nAU,A,1\nAU,A,2\n", "bins.csv:3: bin AU/A is also on line 2"),
        ("warehouse,bin,walk_sequence\nAU,,1\n", "bins.csv:2: bin is required"),
        ("warehouse,bin,walk_sequence\nAU,A,-1\n", "bins.csv:2: walk_sequence must be a whole number"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_and_nothing_is_imported(tmp_path, warehouses, capsys, text, message):
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_bins", write(tmp_path, text))
    assert message in capsys.readouterr().err
    assert not Bin.objects.exists()
