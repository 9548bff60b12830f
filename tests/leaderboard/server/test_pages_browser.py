"""The server's live board in headless Chromium after submissions over HTTP: rows appear as
they are scored, clicking a header sorts, a team's HTML is shown as text, names link to pages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mrw.testing.browser import headless_chromium

pytest.importorskip("starlette", reason="the server extra is not installed")

from mrw.testing.leaderboard_server import live_server, make_runs, make_truth

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"


def test_live_board_in_chromium(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    truth = make_truth(tmp_path / "toyset" / "qrels")
    with live_server(tmp_path, truth) as server:
        token = server.add_team("team <script>alert(1)</script>")
        driver = headless_chromium()
        try:
            driver.get(server.url + "/")
            assert driver.find_elements(By.CSS_SELECTOR, "p.empty")  # "No submissions yet."

            ids = []
            for name, noise in (("noisy", 2.0), (HOSTILE, 0.3), ("middle", 0.8)):
                response = server.post(
                    token, *make_runs(tmp_path, truth / "test", 7, noise), name=name
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
            for submission_id in ids:
                assert server.wait(token, submission_id)["status"] == "scored"
            driver.get(server.url + "/")

            def names() -> list[str]:
                rows = driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
                return [r.find_elements(By.TAG_NAME, "td")[1].text.split("\n")[0] for r in rows]

            assert names() == [HOSTILE, "middle", "noisy"]  # ranked by rsum (less noise first)
            assert driver.title == "MRW leaderboard"  # the onerror handler never ran
            assert not driver.find_elements(By.CSS_SELECTOR, "table.board img")
            assert len(driver.find_elements(By.TAG_NAME, "script")) == 1  # the page's own
            team_cells = driver.find_elements(By.CSS_SELECTOR, "table.board tbody td:nth-child(3)")
            assert {c.text for c in team_cells} == {"team <script>alert(1)</script>"}

            rsum = driver.find_elements(By.XPATH, "//th[normalize-space(text())='rsum']")[0]
            rsum.click()  # higher is better: descending first
            assert names() == [HOSTILE, "middle", "noisy"]
            rsum.click()
            assert names() == ["noisy", "middle", HOSTILE]
            assert rsum.get_attribute("aria-sort") == "ascending"

            link = driver.find_element(By.LINK_TEXT, "middle")
            link.click()
            deadline = time.monotonic() + 10
            while "/submissions/" not in driver.current_url and time.monotonic() < deadline:
                time.sleep(0.1)
            assert driver.current_url == f"{server.url}/submissions/{ids[2]}"
            assert driver.find_element(By.TAG_NAME, "h2").text == f"#{ids[2]} middle"
            driver.get(f"{server.url}/submissions/{ids[1]}")
            assert driver.find_element(By.TAG_NAME, "h2").text == f"#{ids[1]} {HOSTILE}"
            assert driver.title == "MRW leaderboard"
        finally:
            driver.quit()
