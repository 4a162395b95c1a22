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


def test_prepare_label_fonts_builds_what_is_missing_into_the_font_directory(tmp_path, monkeypatch):
    from labels import fonts

    built = []
    monkeypatch.setenv("LABEL_FONT_DIR", str(tmp_path))
    # Converting the CJK font takes a minute: the builders are stand-ins that write a file, the command is real.
    monkeypatch.setattr(
        fonts,
        "_sources",
        lambda: {"Fake-regular": (lambda source, target: built.append(target) or target.touch(), None, None)},
    )
    out = io.StringIO()
    call_command("prepare_label_fonts", stdout=out)
    assert built == [tmp_path / f"Fake-regular-v{fonts.CACHE_VERSION}.ttf"] and built[0].exists()
    assert out.getvalue().startswith(f"1 label font ready in {tmp_path} (")
    call_command("prepare_label_fonts", stdout=io.StringIO())
    assert len(built) == 1  # already there: nothing built again
