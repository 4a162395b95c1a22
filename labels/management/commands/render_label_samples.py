"""python manage.py render_label_samples DIR: sample labels (PDF and ZPL) and a commercial invoice for worldwide
addresses, so a warehouse can test its printers before any courier is connected."""

from pathlib import Path

from django.core.management.base import BaseCommand

from labels import samples
from labels.invoice import render_invoice_pdf
from labels.shipping import render_label_pdf, render_label_zpl


class Command(BaseCommand):
    help = "Write sample shipping labels (PDF, ZPL) and a commercial invoice for worldwide addresses into DIR."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **options):
        directory.mkdir(parents=True, exist_ok=True)
        labels = [
            samples.label(key, tracking_number=f"79461234560{i}", express=i % 2 == 0, reprint=key == "latin")
            for i, key in enumerate(samples.RECIPIENTS)
        ]
        written = {
            "labels.pdf": render_label_pdf(labels),
            "labels.zpl": render_label_zpl(labels),
            "commercial-invoice.pdf": render_invoice_pdf(samples.invoice()),
        }
        for key in samples.RECIPIENTS:
            written[f"commercial-invoice-{key}.pdf"] = render_invoice_pdf(
                samples.invoice(importer=samples.RECIPIENTS[key])
            )
        for name, content in written.items():
            (directory / name).write_bytes(content)
            self.stdout.write(f"{directory / name}")
