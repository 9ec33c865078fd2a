"""Browser fixtures: headless Debian chromium driven by Selenium (skips without)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def chrome(tmp_path):
    """A function returning a headless chromium WebDriver (skips without one)."""

    def make():
        if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
            pytest.skip("Debian chromium / chromium-driver are not installed")
        webdriver = pytest.importorskip("selenium.webdriver")
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1200,2000",
            f"--user-data-dir={tmp_path / 'chrome-profile'}",
        ):
            options.add_argument(flag)
        return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)

    return make


@pytest.fixture
def screenshot_is_not_blank():
    """A function telling whether a PNG screenshot shows something."""

    def check(png: bytes) -> bool:
        from PIL import Image

        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
        return bool(pixels.std() > 5 and (pixels < 200).mean() > 0.01)

    return check
