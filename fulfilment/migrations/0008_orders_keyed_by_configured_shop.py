"""Orders are keyed by the configured shop now, not by the unsigned shop header (0007's release).

Before, a shop left unconfigured (SHOPIFY_SHOP_DOMAIN, WOOCOMMERCE_URL) keyed each order by
the header the webhook carried; now it is the one shop "default". Without this, the next
update of an order stored before would create a second order under "default" and reserve its
stock again. An order whose external id already exists under "default" (the old bug doubled
it) is left as it is and listed, for operations to merge by hand. With a shop configured,
webhooks from any other shop were refused, so the stored keys already agree.
"""

from django.conf import settings
from django.db import migrations

DEFAULT_SHOP = "default"  # fulfilment.storefronts.base.DEFAULT_SHOP, frozen here


def rekey(apps, schema_editor):
    Order = apps.get_model("fulfilment", "Order")
    configured = {
        "shopify": getattr(settings, "SHOPIFY_SHOP_DOMAIN", ""),
        "woocommerce": getattr(settings, "WOOCOMMERCE_URL", ""),
    }
    for channel, shop in configured.items():
        if shop:
            continue
        taken = set(Order.objects.filter(channel=channel, shop=DEFAULT_SHOP).values_list("external_id", flat=True))
        doubled = []
        rows = Order.objects.filter(channel=channel).exclude(shop=DEFAULT_SHOP).order_by("pk")
        for pk, external_id in rows.values_list("pk", "external_id"):
            if external_id in taken:
                doubled.append(pk)
                continue
            Order.objects.filter(pk=pk).update(shop=DEFAULT_SHOP)
            taken.add(external_id)
        if doubled:
            print(f"\n  {channel}: orders {doubled} exist twice (once per shop header); merge them by hand")


class Migration(migrations.Migration):
    dependencies = [("fulfilment", "0007_order_intake_issues")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
