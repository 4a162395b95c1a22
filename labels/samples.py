"""Worldwide sample addresses, labels, an invoice, a pick list and packing slips: for printer tests
(render_label_samples), the tests and the benchmarks."""

import datetime as dt

from labels.shipping import Address, LabelData

SENDER = Address(
    name="Solewise Ltd",
    company="Returns & Fulfilment",
    lines=("Unit 4, Riverside Park",),
    city="Manchester",
    postcode="M17 1AB",
    country="GB",
    phone="+44 161 555 0100",
)

RECIPIENTS = {
    "japanese": Address(
        name="山田 太郎",
        lines=("渋谷区神南1-2-3",),
        city="東京都",
        postcode="150-0041",
        country="JP",
        phone="+81 3 1234 5678",
    ),
    "chinese": Address(
        name="王小明",
        lines=("朝阳区建国路88号",),
        city="北京市",
        postcode="100022",
        country="CN",
        phone="+86 10 8888 0000",
    ),
    "korean": Address(
        name="김민준",
        lines=("강남구 테헤란로 152",),
        city="서울",
        postcode="06236",
        country="KR",
        phone="+82 2 555 0199",
    ),
    "cyrillic": Address(
        name="Иван Петров",
        lines=("ул. Тверская, д. 7, кв. 12",),
        city="Москва",
        postcode="125009",
        country="RU",
        phone="+7 495 123 4567",
    ),
    "greek": Address(
        name="Γιώργος Παπαδόπουλος",
        lines=("Οδός Ερμού 25",),
        city="Αθήνα",
        postcode="105 63",
        country="GR",
        phone="+30 21 0123 4567",
    ),
    "arabic": Address(
        name="أحمد محمد",
        lines=("شارع الملك فهد",),
        city="الرياض",
        postcode="12271",
        country="SA",
        phone="+966 11 555 0123",
    ),
    "latin": Address(
        name="Zoë Łukasiewicz-Ørsted",
        company="Café Crème S.à r.l.",
        lines=("Çalle de la Señora 3º",),
        city="Kraków",
        postcode="31-008",
        country="PL",
        phone="+48 12 345 67 89",
    ),
}


def label(recipient_key="japanese", **overrides):
    values = {
        "sender": SENDER,
        "recipient": RECIPIENTS[recipient_key],
        "courier": "FedEx",
        "service": "International Priority",
        "product_code": "IP",
        "tracking_number": "794612345678",
        "ship_date": dt.date(2026, 12, 1),
        "order_reference": "SW-10042",
        "weight_g": 420,
        "dimensions_cm": (30, 12, 4),
        "express": True,
        "routing_code": "NRT-A12",
        "origin": "MAN",
        "destination": "NRT",
        "piece": 1,
        "pieces": 2,
    }
    values.update(overrides)
    return LabelData(**values)


def invoice(**overrides):
    from decimal import Decimal

    from labels.invoice import InvoiceData, InvoiceLine

    values = {
        "exporter": SENDER,
        "importer": RECIPIENTS["japanese"],
        "invoice_number": "CI-2026-0042",
        "invoice_date": dt.date(2026, 12, 1),
        "currency": "GBP",
        "lines": (
            InvoiceLine("Gel insoles, EU 42", 2, Decimal("19.95"), "GB", sku="GEL-EU42"),
            InvoiceLine("Arch support insoles, EU 38", 1, Decimal("34.50"), "PT", sku="ARCH-EU38"),
        ),
        "total_weight_g": 640,
        "order_reference": "SW-10042",
        "tracking_number": "794612345678",
    }
    values.update(overrides)
    return InvoiceData(**values)


# The catalogue the floor samples pick from: product code -> name; sizes EU 36-46.
PRODUCTS = {
    "GEL": "Gel insoles",
    "ARCH": "Arch support insoles",
    "SPORT": "Sport running insoles",
    "WOOL": "Merino wool insoles",
    "SLIM": "Slim dress-shoe insoles",
}
# Bins in walk order (the warehouse's walk_sequence, not string order: B-03-05 is walked before B-01-02).
WALK = ("A-01-03", "A-01-07", "A-02-01", "B-03-05", "B-01-02", "C-02-04")


def _tote_items(*items):
    from labels.picklist import ToteItem

    return tuple(
        ToteItem(sku=f"{code}-EU{size}", product_name=PRODUCTS[code], size=f"EU {size}", quantity=q, bin=bin_)
        for code, size, q, bin_ in items
    )


def _pick_lines(totes):
    """What the caller does: one line per bin and SKU, in walk order, then product, then size; lines without a bin
    after the walk; each line split over its totes in tote order."""
    from labels.picklist import PickLine

    grouped = {}
    for tote in totes:
        for item in tote.items:
            grouped.setdefault((item.bin, item.sku), (item, []))[1].append((tote.number, item.quantity))

    def walk_order(key):
        bin_, _sku = key
        item = grouped[key][0]
        return (WALK.index(bin_) if bin_ else len(WALK), item.sku.split("-")[0], int(item.size.split()[-1]))

    lines = []
    for key in sorted(grouped, key=walk_order):
        item, split = grouped[key]
        lines.append(
            PickLine(
                bin=item.bin,
                product=item.sku.split("-")[0],
                product_name=item.product_name,
                size=item.size,
                sku=item.sku,
                barcode="",
                quantity=sum(units for _tote, units in split),
                totes=tuple(sorted(split)),
            )
        )
    return tuple(lines)


def _sample_totes():
    from labels.picklist import Tote

    contents = {
        "japanese": (("GEL", 42, 2, "A-01-03"), ("ARCH", 38, 1, "B-03-05")),
        "chinese": (("GEL", 42, 1, "A-01-03"), ("SPORT", 44, 1, "C-02-04")),
        "korean": (("SLIM", 37, 1, "B-01-02"),),
        "cyrillic": (("WOOL", 43, 2, "A-02-01"), ("GEL", 40, 1, "A-01-03")),
        "greek": (("ARCH", 41, 1, "B-03-05"), ("GEL", 42, 1, "A-01-03"), ("WOOL", 39, 1, "")),
        "arabic": (("SPORT", 45, 3, "C-02-04"),),
        "latin": (("GEL", 36, 1, "A-01-07"), ("SLIM", 38, 1, "B-01-02")),
    }
    return tuple(
        Tote(
            number=number,
            order_id=5000 + number,
            order_reference=f"SW-{10040 + number}",
            customer=RECIPIENTS[key].name,
            destination=RECIPIENTS[key].country,
            service_level="express" if number <= 4 else "standard",
            late=number == 2,
            items=_tote_items(*items),
        )
        for number, (key, items) in enumerate(contents.items(), 1)
    )


def pick_list(**overrides):
    """A wave of seven orders, one per sample recipient (every script), in the Manchester warehouse."""
    from labels.picklist import PickListData

    totes = overrides.pop("totes", None) or _sample_totes()
    values = {
        "wave_id": 1042,
        "warehouse": "MAN",
        "warehouse_name": "Manchester fulfilment centre",
        "timezone": "Europe/London",
        "created_at": dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
        "printed_at": dt.datetime(2026, 12, 1, 8, 42, tzinfo=dt.UTC),
        "picker": "Sam Okafor",
        "service_level": "",
        "totes": totes,
    }
    values.update(overrides)
    if "lines" not in values:
        values["lines"] = _pick_lines(totes)
    return PickListData(**values)


def large_pick_list(orders=1000, items_per_order=3, batch=0, **overrides):
    """A wave of ``orders`` orders with ``items_per_order`` items each, every item another SKU in another bin, so
    there are orders x items pick lines and few strings repeat: the benchmark's and the multi-page tests' wave.
    Another ``batch`` is another wave of the same catalogue: new customers and order numbers, the same SKUs."""
    from labels.picklist import PickLine, Tote, ToteItem

    keys = list(RECIPIENTS)
    codes = list(PRODUCTS)
    n = orders * items_per_order
    lines, items = [], {number: [] for number in range(1, orders + 1)}
    for i in range(n):  # in walk order: bins rise with i
        code, size = f"{codes[i % len(codes)]}{i // 45:03d}", 36 + i % 11
        bin_ = f"{'ABCDEFGH'[i * 8 // n]}-{i // 40 % 50:02d}-{i % 40:02d}"
        tote, quantity = i % orders + 1, 1 + (i % 4 == 0)
        name = PRODUCTS[codes[i % len(codes)]]  # the catalogue's names; the codes make each line another product
        sku = f"{code}-EU{size}"
        lines.append(PickLine(bin_, code, name, f"EU {size}", sku, "", quantity, ((tote, quantity),)))
        items[tote].append(ToteItem(sku, name, f"EU {size}", quantity, bin_))
    totes = []
    for number, tote_items in items.items():
        r = RECIPIENTS[keys[number % len(keys)]]
        totes.append(
            Tote(
                number=number,
                order_id=100000 + number,
                order_reference=f"SW-{batch}{200000 + number}",
                customer=f"{r.name} {batch}-{number}",
                destination=r.country,
                service_level="express" if number % 3 == 0 else "standard",
                late=number % 30 == 0,
                items=tuple(tote_items),
            )
        )
    return pick_list(**{"wave_id": 987654, "lines": tuple(lines), "totes": tuple(totes), **overrides})


RETURNS = Address(
    name="Solewise Returns",
    company="Solewise Ltd",
    lines=("Unit 4, Riverside Park", "Returns dock 2"),
    city="Manchester",
    postcode="M17 1AB",
    country="GB",
)


def packing_slip(recipient_key="japanese", **overrides):
    from labels.packing_slip import PackingSlipData, SlipLine

    values = {
        "sender": SENDER,
        "recipient": RECIPIENTS[recipient_key],
        "order_reference": "SW-10042",
        "order_date": dt.date(2026, 11, 29),
        "lines": (
            SlipLine("Gel insoles", "UK 8", "EU 42", "GEL-EU42", 2),
            SlipLine("Arch support insoles", "UK 5", "EU 38", "ARCH-EU38", 1),
            SlipLine("Merino wool insoles", "EU 40", "", "WOOL-EU40", 1),
        ),
        "return_address": RETURNS,
        "return_days": 30,
        "returns_url": "https://solewise.example/returns",
        "service": "Express",
    }
    values.update(overrides)
    return PackingSlipData(**values)
