"""render_label_samples writes documents a printer test can use."""

import io

import pypdf
from django.core.management import call_command

from labels.samples import RECIPIENTS


def test_render_label_samples_writes_label_pdf_zpl_and_invoices(tmp_path):
    out = io.StringIO()
    call_command("render_label_samples", str(tmp_path / "samples"), stdout=out)
    directory = tmp_path / "samples"
    reader = pypdf.PdfReader(directory / "labels.pdf")
    assert len(reader.pages) == len(RECIPIENTS)
    zpl = (directory / "labels.zpl").read_bytes()
    assert zpl.count(b"^XA") == zpl.count(b"^XZ") == len(RECIPIENTS)
    assert (directory / "commercial-invoice.pdf").read_bytes().startswith(b"%PDF")
    for key in RECIPIENTS:
        assert (directory / f"commercial-invoice-{key}.pdf").exists()
    assert "labels.zpl" in out.getvalue()
