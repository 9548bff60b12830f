"""The rendered page in headless Chromium: rows are read, a header click re-sorts them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from leaderboard.board import add_submission
from leaderboard.render import render

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _metrics(r1: float, medr: int) -> dict:
    direction = {"R@1": r1, "R@5": r1 + 10, "R@10": r1 + 20, "MedR": medr, "MeanR": 9.0,
                 "nMR": medr / 100, "queries": 100, "missing_queries": 0}  # fmt: skip
    return {"t2v": direction, "v2t": {**direction, "R@1": 50 - r1}, "rsum": 6 * r1 + 60}


@pytest.fixture
def page(tmp_path: Path) -> Path:
    board = tmp_path / "board.db"
    for i, (name, r1, medr) in enumerate(
        [("alpha", 30.0, 4), ("beta", 10.0, 9), ("gamma", 20.0, 2)]
    ):
        add_submission(
            board, name=name, team="t", dataset="mrw", split="test", metrics=_metrics(r1, medr),
            t2v_sha256=f"{i}", v2t_sha256="x", truth_sha256="truth",
        )  # fmt: skip
    return render(board, tmp_path / "site")["index.html"]


def test_index_html_sorts_by_clicked_column(page: Path) -> None:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "headless Chromium not installed (Debian: apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(page.as_uri())

        def names() -> list[str]:
            rows = driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
            return [row.find_elements(By.TAG_NAME, "td")[1].text.split("\n")[0] for row in rows]

        assert names() == ["alpha", "gamma", "beta"]  # rendered by rsum
        best = driver.find_elements(By.CSS_SELECTOR, "tbody td.best")
        assert {cell.text for cell in best} >= {"30.0", "2", "40.0"}  # t2v R@1, t2v MedR, v2t R@1

        header = {
            h.text.strip(" ▲▼"): h for h in driver.find_elements(By.CSS_SELECTOR, "th[data-col]")
        }
        medr = driver.find_elements(By.XPATH, "//th[normalize-space(text())='MedR']")[0]
        medr.click()  # lower is better: ascending first
        assert names() == ["gamma", "alpha", "beta"]
        assert medr.get_attribute("aria-sort") == "ascending"
        medr.click()
        assert names() == ["beta", "alpha", "gamma"]
        header["Method"].click()
        assert names() == ["alpha", "beta", "gamma"]
    finally:
        driver.quit()
