"""factory_boy factories for the catalogue and stock (stock numbers come from services, not factories)."""

from __future__ import annotations

import datetime as dt

import factory

from inventory.models import Bin, Product, Size, SizeSystem, Sku, Warehouse, WarehouseZone


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Insole {o.code}")


class SizeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Size
        django_get_or_create = ("system", "label")

    system = SizeSystem.EU
    label = factory.Sequence(lambda n: str(35 + n % 14))
    sort_order = factory.LazyAttribute(lambda o: int(float(o.label) * 10))


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    product = factory.SubFactory(ProductFactory)
    size = factory.SubFactory(SizeFactory)
    code = factory.LazyAttribute(lambda o: f"{o.product.code}-{o.size.system}{o.size.label}")
    weight_g = 80
    hs_code = "6406.90"


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"W{n}")
    name = factory.LazyAttribute(lambda o: f"Warehouse {o.code}")
    country = "NL"
    express_cutoff = dt.time(15, 0)


class WarehouseZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WarehouseZone

    warehouse = factory.SubFactory(WarehouseFactory)
    zone = "*"
    priority = 9


class BinFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bin

    warehouse = factory.SubFactory(WarehouseFactory)
    code = factory.Sequence(lambda n: f"A{n:02d}")
    walk_sequence = factory.Sequence(lambda n: n * 10)
