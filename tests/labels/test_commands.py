"""render_label_samples writes documents a printer test can use."""

import io

import pypdf
from django.core.management import call_command

from labels.samples import RECIPIENTS
from tests.labels.helpers import page_sizes, pages_text, squash


def test_render_label_samples_writes_labels_invoices_packing_slips_and_a_pick_list(tmp_path):
    out = io.StringIO()
    call_command("render_label_samples", str(tmp_path / "samples"), stdout=out)
    directory = tmp_path / "samples"
    reader = pypdf.PdfReader(directory / "labels.pdf")
    assert len(reader.pages) == len(RECIPIENTS)
    zpl = (directory / "labels.zpl").read_bytes()
    assert zpl.count(b"^XA") == zpl.count(b"^XZ") == len(RECIPIENTS)
    assert (directory / "commercial-invoice.pdf").read_bytes().startswith(b"%PDF")
    assert page_sizes((directory / "packing-slip.pdf").read_bytes()) == [(420, 595)]
    for key, recipient in RECIPIENTS.items():
        assert (directory / f"commercial-invoice-{key}.pdf").exists()
        (slip,) = pages_text((directory / f"packing-slip-{key}.pdf").read_bytes())
        assert squash(recipient.name) in squash(slip)
    pick_list = pages_text((directory / "pick-list.pdf").read_bytes())
    assert len(pick_list) == 2 and all("Wave 1042" in page for page in pick_list)
    written = out.getvalue().splitlines()
    assert len(written) == 5 + 2 * len(RECIPIENTS)
    for name in ("labels.zpl", "packing-slip.pdf", "packing-slip-arabic.pdf", "pick-list.pdf"):
        assert str(directory / name) in written
