"""python manage.py render_label_samples DIR: sample labels (PDF and ZPL), commercial invoices, packing slips and a
pick list for worldwide addresses, so a warehouse can test its printers before any courier is connected."""

from pathlib import Path

from django.core.management.base import BaseCommand

from labels import samples
from labels.invoice import render_invoice_pdf
from labels.packing_slip import render_packing_slip_pdf
from labels.picklist import render_pick_list_pdf
from labels.shipping import render_label_pdf, render_label_zpl


class Command(BaseCommand):
    help = (
        "Write sample documents for worldwide addresses into DIR: shipping labels (labels.pdf, labels.zpl), "
        "commercial invoices (commercial-invoice.pdf, commercial-invoice-KEY.pdf), packing slips "
        "(packing-slip.pdf, packing-slip-KEY.pdf) and an A4 pick list of one wave (pick-list.pdf)."
    )

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
            "packing-slip.pdf": render_packing_slip_pdf(samples.packing_slip()),
            "pick-list.pdf": render_pick_list_pdf(samples.pick_list()),
        }
        for key in samples.RECIPIENTS:
            written[f"commercial-invoice-{key}.pdf"] = render_invoice_pdf(
                samples.invoice(importer=samples.RECIPIENTS[key])
            )
            written[f"packing-slip-{key}.pdf"] = render_packing_slip_pdf(samples.packing_slip(key))
        for name, content in written.items():
            (directory / name).write_bytes(content)
            self.stdout.write(f"{directory / name}")
