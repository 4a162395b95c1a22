"""Worldwide sample addresses, labels and an invoice: for printer tests (render_label_samples) and the tests."""

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
