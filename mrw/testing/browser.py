"""Headless Chromium for the tests that check pages as a browser shows them (Selenium)."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = "headless Chromium not installed (Debian: apt-get install chromium chromium-driver)"


def headless_chromium(console_log: bool = False) -> Any:
    """A headless Chromium WebDriver (the caller quits it); skips the test when Chromium or
    its driver is absent. `console_log`: keep the page's console messages
    (`driver.get_log("browser")`)."""
    import pytest

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(MISSING)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def csp_violations(driver: Any) -> list[dict[str, Any]]:
    """The page's console messages that report a Content-Security-Policy violation (the
    driver made with `console_log=True`)."""
    return [m for m in driver.get_log("browser") if "Content Security" in m["message"]]
