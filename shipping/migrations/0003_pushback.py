# Push-back to the storefront: what a shipment became there (one per shipment).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shipping", "0002_tracking"),
    ]

    operations = [
        migrations.CreateModel(
            name="StorefrontFulfillment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("channel", models.CharField(max_length=16)),
                ("external_fulfillment_id", models.CharField(blank=True, max_length=100)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("adopted", "Adopted"),
                            ("closed", "Closed"),
                            ("completed", "Completed"),
                        ],
                        default="created",
                        max_length=12,
                    ),
                ),
                ("detail", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "shipment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="storefront_fulfillment",
                        to="shipping.shipment",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("outcome__in", ["created", "adopted"]), _negated=True),
                            models.Q(("external_fulfillment_id", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="storefront_fulfillment_has_id",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("outcome__in", ["created", "adopted", "closed", "completed"])),
                        name="storefront_outcome_valid",
                    ),
                ],
            },
        ),
    ]
