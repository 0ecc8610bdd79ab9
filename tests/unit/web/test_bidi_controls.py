"""No page shows Unicode bidi controls (the "Trojan Source" trick): a title like
"invoice\u202egnp.exe" would read as "invoiceexe.png". Every ``{{ … }}`` passes
services.web.deps._shown, so the NC's own page, the inbox and a form's value drop them."""

from pathlib import Path

from tests.unit.web.fake_api import FakeApi, nonconformity, ui_as

CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


async def test_pages_drop_bidi_controls_from_every_text(tmp_path: Path) -> None:
    fake = FakeApi()
    nc = nonconformity(title="Invoice\u202egnp.exe", description="Seal \u2067leak\u2069 \u202dx",
                       category="pay\u202bments")
    fake.ncs[nc["id"]] = nc
    async with ui_as("engineer", fake, tmp_path) as ui:
        pages = [await ui.get("/nonconformities"), await ui.get(f"/nonconformities/{nc['id']}")]
    for page in pages:
        assert page.status_code == 200
        assert "Invoicegnp.exe" in page.text  # the text stays, only the controls go
        assert not set(CONTROLS) & set(page.text), page.url
