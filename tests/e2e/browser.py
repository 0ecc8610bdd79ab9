"""Debian's Chromium driven by Playwright: no browser download, the executable
path is set (deploy/browser/ensure.sh installs the package)."""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ROOT, _missing

CHROMIUM = Path(os.environ.get("CAPAFLOW_CHROMIUM", "/usr/bin/chromium"))
# Screenshots of every page the journey visits, kept after the run (var/ is not
# committed; CI keeps the folder as the test's artifacts).
ARTIFACTS = ROOT / "var" / "test-artifacts" / "ui"
# This machine has no network: Chromium's own background traffic would only fail.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _missing(f"Chromium at {CHROMIUM} (deploy/browser/ensure.sh installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Screenshots:
    """Numbered full-page screenshots: 01-sign-in.png, 02-inbox.png, ..."""

    def __init__(self, folder: Path = ARTIFACTS) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        self.taken: list[Path] = []

    def take(self, page: Page, name: str) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path
