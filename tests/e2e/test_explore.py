"""`mrw-bench explore` on a tiny toy set: a PVSE K=3 run and a one-embedding (VSE++) run,
with a hostile title in the test split. The page is checked as a file (escaping, CSP, size,
thumbnails, kinds, attention, the diff) and in headless Chromium (screenshots at 1280 and
390 px, no console errors, the hostile title shown as text, paging and filters work)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mrw.bench.cli import main as bench_main
from mrw.bench.options import RunOptions
from mrw.bench.runner import run_method
from mrw.testing.browser import headless_chromium
from mrw.toy.video import ToyConfig, build_toy

HOSTILE = (
    '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> mrw '
    + "a-very-long-title-" * 40
)
PAGE_CAP_BYTES = 3_000_000  # the toy test split's page (27 queries per direction) stays under
SMALL = {"embed_dim": 32, "hidden_dim": 32}


def hostile_toy(folder: Path) -> Path:
    """A 200-pair toy set whose first test sentence is a hostile Reddit-style title."""
    built = build_toy(folder, num_pairs=200, size=32)
    shard = next((built / "data").glob("test-*.parquet"))
    table = pq.read_table(shard)
    sentences = table.column("sentence").to_pylist()
    sentences[0] = HOSTILE
    index = table.schema.get_field_index("sentence")
    table = table.set_column(index, table.schema.field(index), pa.array(sentences))
    pq.write_table(table, shard)
    return built


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("explore")
    mp = pytest.MonkeyPatch()
    mp.setenv("MRW_CACHE", str(root / "cache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    try:
        options = RunOptions(
            dataset=str(hostile_toy(root / "toy")),
            backbone="colour-edges",
            weights="none",
            image_size=32,
            standardize_features=True,
            epochs=2,
            batch_size=32,
            runs_dir=str(root / "runs"),
            progress=False,
        )
        pvse = run_method("pvse", {"k": 3, **SMALL}, options).run_dir
        vsepp = run_method("vsepp", {"embed_dim": 32}, options).run_dir
        out = {"pvse": pvse, "vsepp": vsepp, "root": root}
        for name, run, against in (("pvse", pvse, vsepp), ("vsepp", vsepp, None)):
            argv = ["explore", str(run), "--out", str(root / f"page-{name}")]
            assert bench_main(argv + (["--against", str(against)] if against else [])) == 0
            out[f"page-{name}"] = root / f"page-{name}" / "index.html"
        yield out
    finally:
        mp.undo()


def test_page_is_escaped_bounded_and_complete(runs: dict[str, Path]) -> None:
    page = runs["page-pvse"].read_text(encoding="utf-8")
    assert "<script>window.pwned" not in page and 'onerror="window' not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page  # shown, as text
    assert runs["page-pvse"].stat().st_size < PAGE_CAP_BYTES
    assert "bounded: at most 200 queries per direction" in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert "script-src 'sha256-" in csp and "http" not in csp  # no CDN, nothing remote
    assert page.count("<script>") == 1  # the one hashed script (plus the JSON data block)
    assert "data:image/gif;base64," in page  # thumbnails re-encoded from the toy GIFs
    assert "data:image/png;base64," in page  # matplotlib plots, embedded
    assert 'id="kind"' in page and '<option value="object">' in page  # toy moment kinds
    assert 'class="strip"' in page  # attention over frames under the ground truth
    wins = re.findall(r"<tr><th>(object|scene|pattern)</th>((?:<td>\d+</td>)+)</tr>", page)
    test_pairs = ToyConfig(num_pairs=200).split_sizes()["test"]
    for side in range(2):  # every ground-truth pair counted once per side, K=3 heads
        counts = [re.findall(r"\d+", cells) for _, cells in wins[3 * side : 3 * side + 3]]
        assert all(len(c) == 3 for c in counts)
        assert sum(int(x) for c in counts for x in c) == test_pairs
    assert "fixed (" in page and "broken (" in page  # --against diff
    for plot in ("usage.png", "ranks.png"):  # the plots also as files beside the page
        assert (runs["page-pvse"].parent / plot).read_bytes()[:4] == b"\x89PNG"
    single = runs["page-vsepp"].read_text(encoding="utf-8")
    assert "vsepp exposes no attention" in single and 'class="strip"' not in single


def test_bad_input_is_one_line_error(runs: dict[str, Path], capsys) -> None:
    missing = runs["root"] / "nothing"
    assert bench_main(["explore", str(missing), "--out", str(runs["root"] / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    (runs["vsepp"] / "per_query.parquet").rename(runs["root"] / "moved.parquet")
    try:
        assert bench_main(["explore", str(runs["vsepp"]), "--out", str(runs["root"] / "x")]) == 2
        assert "no per-query table" in capsys.readouterr().err
    finally:
        (runs["root"] / "moved.parquet").rename(runs["vsepp"] / "per_query.parquet")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("name", ["pvse", "vsepp"])
def test_page_in_headless_chromium(runs: dict[str, Path], name: str) -> None:
    from selenium.webdriver.common.by import By

    driver = headless_chromium(console_log=True)
    page = runs[f"page-{name}"]
    try:
        for width in (1280, 390):
            driver.set_window_size(width, 900)
            driver.get(page.as_uri())
            visible = [
                c for c in driver.find_elements(By.CSS_SELECTOR, ".card") if c.is_displayed()
            ]
            assert 0 < len(visible) <= 20  # paged
            shot = page.parent / f"screenshot-{width}.png"
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
            scroll = driver.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= width + 1, f"horizontal scroll at {width} px"
        assert driver.execute_script("return window.pwned") is None
        search = driver.find_element(By.ID, "search")
        search.send_keys("a-very-long-title")
        visible = [c for c in driver.find_elements(By.CSS_SELECTOR, ".card") if c.is_displayed()]
        assert visible and "<script>window.pwned=1</script>" in visible[0].text
        search.clear()
        driver.find_element(By.CSS_SELECTOR, "#correct option[value='0']").click()
        shown = driver.find_elements(By.CSS_SELECTOR, ".card:not(.hidden)")
        assert shown and all(c.get_attribute("data-correct") == "0" for c in shown)
        images = driver.execute_script(
            "return Array.from(document.images).filter(i => i.src && i.complete)"
            ".map(i => i.naturalWidth)"
        )
        assert images and all(w > 0 for w in images)  # thumbnails and plots decode
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
