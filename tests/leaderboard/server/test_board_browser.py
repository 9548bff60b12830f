"""The board's new columns in headless Chromium at 1280 px, under the server's strict CSP: the
host's baseline row with its badge and no rank, the cross-dataset table with a missing cell,
the leader-test and training-data columns, an artefact link that cannot open a script;
screenshots of the page at 1280 px."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrw.testing.browser import csp_violations, headless_chromium

pytest.importorskip("starlette", reason="the server extra is not installed")

from leaderboard.board import truth_fingerprint
from leaderboard.server.client import card_field
from mrw.core.protocol import ProtocolCard
from mrw.testing.harness_runs import harness_run
from mrw.testing.leaderboard_server import live_server, make_runs, make_truth

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_board_columns_in_chromium(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    truth = make_truth(tmp_path / "toyset" / "qrels")
    test = truth / "test"
    hosts = tmp_path / "host-runs"
    harness_run(hosts, test, 9, 0, 0.05, training_data="zero-shot; web-scale pretraining")
    card = ProtocolCard(dataset="toyset", split="test", truth_sha256=truth_fingerprint(test),
                        features="clip:ViT-B-32")  # fmt: skip
    with live_server(tmp_path, truth) as server:
        added = server.cli("baseline", "add", "--board", str(server.board), "--truth",
                           str(truth), str(hosts))  # fmt: skip
        assert added.returncode == 0, added.stderr
        tokens = {name: server.add_team(name) for name in ("alpha", "beta <b>")}
        posts = [
            ("alpha", 0, {"code_url": "https://example.org/alpha\"onclick=\"x",
                          "training_data": "fine-tuned on MRW train"}),
            ("beta <b>", 1, {}),
            ("alpha", 2, {"protocol_card": card_field(card)}),
        ]  # fmt: skip
        for team, seed, fields in posts:
            pair = make_runs(tmp_path, test, seed, noise=0.3 + 0.2 * seed)
            response = server.post(tokens[team], *pair, name=f"{team}-{seed}", **fields)
            assert response.status_code == 202, response.text
            assert server.wait(tokens[team], response.json()["id"])["status"] == "scored"

        driver = headless_chromium(console_log=True)
        try:
            driver.set_window_size(1280, 900)
            driver.get(server.url + "/")
            assert driver.title == "MRW leaderboard"
            cross = driver.find_element(By.CSS_SELECTOR, "section.cross")
            assert cross.is_displayed() and "Across datasets" in cross.text
            rows = cross.find_elements(By.CSS_SELECTOR, "tbody tr")
            teams = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
            assert teams == ["alpha", "beta <b>"]  # alpha: two tables; no baseline row
            beta = rows[1].find_elements(By.TAG_NAME, "td")
            assert "—" in [c.text for c in beta]  # the missing cell, never 0
            assert beta[-1].text == "—"  # no mean rank with a missing cell

            baseline = driver.find_element(By.CSS_SELECTOR, "table.board tr.baseline")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", baseline)
            assert baseline.is_displayed()
            badge = baseline.find_element(By.CSS_SELECTOR, "td:first-child .badge")
            assert badge.text == "baseline" and badge.is_displayed()
            head = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "table.board th")]
            for label in ("Training data", "Artefacts", "Δrsum vs leader [95% CI]", "p vs leader"):
                assert label in head
            texts = " ".join(t.text for t in driver.find_elements(By.CSS_SELECTOR, "table.board"))
            assert "zero-shot; web-scale pretraining" in texts
            assert "undeclared (unknown overlap with the test media)" in texts
            assert "leader" in texts
            link = driver.find_element(By.LINK_TEXT, "code")
            assert link.get_attribute("href") == "https://example.org/alpha%22onclick=%22x"
            assert link.get_attribute("rel") == "nofollow noopener noreferrer"
            assert link.get_attribute("onclick") is None
            assert len(driver.find_elements(By.TAG_NAME, "script")) == 1
            ranks = [
                tr.find_element(By.TAG_NAME, "td").text
                for tr in driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
            ]
            assert ranks.count("baseline") == 1 and "1" in ranks

            driver.execute_script("window.scrollTo(0, 0)")
            for name in ("board-top-1280.png", "board-baseline-1280.png"):
                if name == "board-baseline-1280.png":
                    driver.execute_script("arguments[0].scrollIntoView()", baseline)
                shot = tmp_path / name
                assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
            assert csp_violations(driver) == []
        finally:
            driver.quit()


def test_board_phases_in_chromium(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    truth = make_truth(tmp_path / "toyset" / "qrels")
    hosts = tmp_path / "host-runs"
    harness_run(hosts, truth / "test", 9, 0, 0.05)
    with live_server(tmp_path, truth) as server:
        host = ["--board", str(server.board)]
        tokens = {name: server.add_team(name) for name in ("alpha", "beta")}
        assert server.cli("phase", "open", "dev", *host).returncode == 0
        pair = make_runs(tmp_path, truth / "validation", 1)
        response = server.post(tokens["alpha"], *pair, name="dev-run")
        assert server.wait(tokens["alpha"], response.json()["id"])["status"] == "scored"
        opened = server.cli("phase", "open", "test", *host, "--seed", "7")
        assert opened.returncode == 0, opened.stderr
        for team, seed in (("alpha", 2), ("beta", 3)):
            pair = make_runs(tmp_path, truth / "test", seed, noise=0.3 + 0.2 * seed)
            response = server.post(tokens[team], *pair, name=f"{team}-test")
            assert server.wait(tokens[team], response.json()["id"])["status"] == "scored"
        added = server.cli("baseline", "add", *host, "--truth", str(truth), str(hosts))
        assert added.returncode == 0, added.stderr

        driver = headless_chromium(console_log=True)
        try:
            driver.set_window_size(1280, 900)
            driver.get(server.url + "/")
            phases = driver.find_element(By.CSS_SELECTOR, "section.phases")
            assert phases.is_displayed()
            header = [h.text for h in phases.find_elements(By.CSS_SELECTOR, "thead th")]
            assert header == ["Phase", "Split", "Scored", "Opens", "Closes", "State"]
            rows = [r.text for r in phases.find_elements(By.CSS_SELECTOR, "tbody tr")]
            assert rows[0].startswith("dev validation") and "open now" not in rows[0]
            assert rows[1].startswith("test test") and rows[1].endswith("open now")
            open_row = phases.find_element(By.CSS_SELECTOR, "tbody tr.open")
            assert open_row.text == rows[1]
            headings = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "section h2")]
            assert any(h.endswith("test (public)") for h in headings), headings
            assert not any(h.endswith("test (private)") for h in headings)  # not revealed
            baseline = driver.find_element(By.CSS_SELECTOR, "table.board tr.baseline")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", baseline)
            assert baseline.is_displayed()
            driver.execute_script("window.scrollTo(0, 0)")
            shot = tmp_path / "board-phases-1280.png"
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
            assert csp_violations(driver) == []
        finally:
            driver.quit()
