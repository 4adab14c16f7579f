"""Playwright driving Debian's Chromium (never a downloaded browser)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SANCTUM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def launch(playwright):
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        if os.environ.get("SANCTUM_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM} and SANCTUM_REQUIRE_BROWSER is set")
        pytest.skip(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` to run browser tests")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # caret="initial": hiding the caret injects a <style> that the CSP blocks, which then shows up
    # as a console error at the page's next restyle (after an htmx swap, for example).
    page.screenshot(path=str(path), full_page=True, caret="initial")
    return path
