"""The rendered board's layout in headless Chromium at 1280 px: the method name and rsum are
visible without scrolling even when the row is wider than the window, the column headers
stick while the table scrolls, metric headers carry higher/lower-is-better arrows, and a
board with several submissions shows a small rsum-over-time plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from leaderboard.board import add_submission
from leaderboard.metrics import Metrics
from leaderboard.render import render
from mrw.testing.browser import headless_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _metrics(r1: float) -> Metrics:
    direction = {"R@1": r1, "R@5": r1 + 10, "R@10": r1 + 20, "MedR": 4, "MeanR": 9.0,
                 "nMR": 0.5, "queries": 100, "missing_queries": 0}  # fmt: skip
    return Metrics.from_json({"t2v": direction, "v2t": direction, "rsum": 6 * r1 + 60})


def board_page(tmp_path: Path, count: int) -> Path:
    board = tmp_path / "board.db"
    for i in range(count):
        add_submission(
            board, name=f"method-{i} " + "with a long name " * 3, team="team " * 12,
            dataset="mrw", split="test", metrics=_metrics(10.0 + i),
            t2v_sha256=f"{i}", v2t_sha256="x", truth_sha256="truth",
            description="a description that goes on " * 8,
        )  # fmt: skip
    return render(board, tmp_path / "site")["index.html"]


@pytest.fixture()
def driver():

    browser = headless_chromium()
    yield browser
    browser.quit()


def test_method_and_rsum_visible_at_1280_with_sticky_header(driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    page = board_page(tmp_path, 40)
    driver.set_window_size(1280, 800)
    driver.get(page.as_uri())
    width = driver.execute_script("return window.innerWidth")
    row = driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")[0]
    cells = row.find_elements(By.TAG_NAME, "td")
    for cell in (cells[1], cells[-1]):  # the method, rsum
        box = driver.execute_script("return arguments[0].getBoundingClientRect()", cell)
        assert box["left"] >= 0 and box["right"] <= width, box
    assert cells[-1].text == f"{6 * (10 + 39) + 60:.1f}"  # the best row's rsum, first
    section = driver.find_element(By.CSS_SELECTOR, "section")
    header = driver.find_element(By.XPATH, "//th[normalize-space(text())='rsum']")
    before = header.location_once_scrolled_into_view
    driver.execute_script("arguments[0].scrollTop = 600", section)
    top = driver.execute_script("return arguments[0].getBoundingClientRect().top", header)
    box = driver.execute_script("return arguments[0].getBoundingClientRect().top", section)
    assert abs(top - box) < 3, (before, top, box)  # stuck to the top of the scrolled table
    arrows = {
        th.text: driver.execute_script(
            "return getComputedStyle(arguments[0], '::before').content", th
        )
        for th in driver.find_elements(By.CSS_SELECTOR, "th.num[data-col]")
    }
    assert arrows["rsum"] == '"↑ "' and arrows["MedR"] == '"↓ "'
    assert (
        driver.find_element(By.XPATH, "//th[normalize-space(text())='MedR']").get_attribute("title")
        == "lower is better"
    )
    dots = driver.find_elements(By.CSS_SELECTOR, "figure.trend circle")
    assert len(dots) == 40
    driver.execute_script("arguments[0].scrollTop = 0", section)
    assert driver.save_screenshot(str(tmp_path / "board-1280.png"))


def test_no_plot_for_a_single_submission(driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get(board_page(tmp_path, 1).as_uri())
    assert driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
    assert not driver.find_elements(By.CSS_SELECTOR, "figure.trend")
