"""The rendered page in headless Chromium: rows are read, a header click (or Enter on a
focused header) re-sorts them, and a censored value is never highlighted as best."""

from __future__ import annotations

from pathlib import Path

import pytest

from leaderboard.board import add_submission
from leaderboard.metrics import Metrics
from leaderboard.render import render
from mrw.testing.browser import headless_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _metrics(r1: float, medr: int | str) -> Metrics:
    direction = {"R@1": r1, "R@5": r1 + 10, "R@10": r1 + 20, "MedR": medr, "MeanR": 9.0,
                 "nMR": 0.5, "queries": 100, "missing_queries": 0}  # fmt: skip
    return Metrics.from_json(
        {"t2v": direction, "v2t": {**direction, "R@1": 50 - r1, "MedR": 5}, "rsum": 6 * r1 + 60}
    )


@pytest.fixture
def page(tmp_path: Path) -> Path:
    board = tmp_path / "board.db"
    # delta is a run truncated at depth 1: its t2v MedR is only known to exceed 1, which the
    # old sort key (1.5) placed ahead of gamma's known 2.
    for i, (name, r1, medr) in enumerate(
        [("alpha", 30.0, 4), ("beta", 10.0, 9), ("gamma", 20.0, 2), ("delta", 5.0, "> 1")]
    ):
        add_submission(
            board, name=name, team="t", dataset="mrw", split="test", metrics=_metrics(r1, medr),
            t2v_sha256=f"{i}", v2t_sha256="x", truth_sha256="truth",
        )  # fmt: skip
    return render(board, tmp_path / "site")["index.html"]


def test_index_html_sorts_by_clicked_column(page: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = headless_chromium()
    try:
        driver.get(page.as_uri())

        def names() -> list[str]:
            rows = driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
            return [row.find_elements(By.TAG_NAME, "td")[1].text.split("\n")[0] for row in rows]

        assert names() == ["alpha", "gamma", "beta", "delta"]  # rendered by rsum
        best = driver.find_elements(By.CSS_SELECTOR, "tbody td.best")
        assert {cell.text for cell in best} >= {"30.0", "2", "45.0"}  # t2v R@1, t2v MedR, v2t R@1
        censored = driver.find_elements(By.CSS_SELECTOR, "tbody td.censored")
        assert [cell.text for cell in censored] == ["> 1"]
        assert "best" not in censored[0].get_attribute("class").split()
        assert "censored" in censored[0].get_attribute("title")
        note = driver.find_element(By.CSS_SELECTOR, "p.note")
        assert note.is_displayed() and "never highlighted as best" in note.text

        header = {
            h.text.strip(" ▲▼"): h for h in driver.find_elements(By.CSS_SELECTOR, "th[data-col]")
        }
        medr = driver.find_elements(By.XPATH, "//th[normalize-space(text())='MedR']")[0]
        medr.click()  # lower is better: ascending first, the censored "> 1" after every known
        assert names() == ["gamma", "alpha", "beta", "delta"]
        assert medr.get_attribute("aria-sort") == "ascending"
        medr.click()
        assert names() == ["delta", "beta", "alpha", "gamma"]
        # Headers are keyboard-focusable: Tab reaches them, Enter sorts.
        method = header["Method"]
        assert method.get_attribute("tabindex") == "0"
        driver.execute_script("arguments[0].focus();", method)
        assert driver.switch_to.active_element == method
        method.send_keys(Keys.ENTER)
        assert names() == ["alpha", "beta", "delta", "gamma"]
        method.send_keys(Keys.SPACE)
        assert names() == ["gamma", "delta", "beta", "alpha"]
    finally:
        driver.quit()
