"""The study's HTML page in a real browser: headless Chromium (Debian's) driven by Playwright."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from colorlib.config import PRESETS
from colorlib.runs import StudyPaths

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    for candidate in (
        os.environ.get("COLORLIB_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    if os.environ.get("COLORLIB_REQUIRE_BROWSER") == "1":
        pytest.fail("no Chromium found, and COLORLIB_REQUIRE_BROWSER=1 (CI installs it)")
    pytest.skip("no Chromium found: apt-get install chromium (or set COLORLIB_CHROMIUM)")


@pytest.fixture(scope="module")
def study(smoke_study) -> StudyPaths:
    """The session's smoke study (all ten configurations and GRAY)."""
    return smoke_study.paths


@pytest.fixture(scope="module")
def models(study) -> list[str]:
    return list(pd.read_csv(study.report()["metrics"], index_col=0).index)


@pytest.fixture
def page(study, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.problems, page.requests = [], []

        def console(message):
            if message.type == "error":
                page.problems.append(f"console error: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
        page.on("request", lambda r: page.requests.append(r.url))
        page.goto(study.report()["page"].as_uri())
        yield page
        browser.close()


def _column(page, i=0):
    return page.eval_on_selector_all(
        "#metrics tbody tr", f"rows => rows.map(r => r.cells[{i}].textContent)"
    )


def test_the_page_is_self_contained_and_loads_without_errors(page, study, models):
    assert page.problems == []
    assert page.requests and all(u.startswith(("file://", "data:")) for u in page.requests)
    assert study.report()["page"].stat().st_size < 3 * 2**20
    assert _column(page) == models == [*PRESETS, "GRAY"]


def test_sorting_by_a_column_reorders_the_rows(page, study, models):
    table = pd.read_csv(study.report()["metrics"], index_col=0)
    page.click("#metrics th[data-col='ciede2000']")
    assert _column(page) == list(table["ciede2000"].sort_values().index)
    page.click("#metrics th[data-col='ciede2000']")
    assert _column(page) == list(table["ciede2000"].sort_values(ascending=False).index)
    page.click("#metrics th[data-col='model']")
    by_name = page.evaluate("names => [...names].sort((a, b) => a.localeCompare(b))", models)
    assert _column(page) == by_name and sorted(by_name) == sorted(models)


def test_the_slider_moves_the_split(page, tmp_path):
    split = page.locator("#split")
    before_style = page.eval_on_selector("#split-model", "e => getComputedStyle(e).clipPath")
    before = split.screenshot()
    page.eval_on_selector(
        "#split-pos", "e => { e.value = 15; e.dispatchEvent(new Event('input')); }"
    )
    after_style = page.eval_on_selector("#split-model", "e => getComputedStyle(e).clipPath")
    assert before_style == "inset(0px 50% 0px 0px)" and after_style == "inset(0px 85% 0px 0px)"
    assert split.screenshot() != before  # what is visible changed, not only a style


def test_choosing_another_test_image_changes_every_panel(page, tmp_path, models):
    sources = "imgs => imgs.map(i => i.src)"
    before = page.eval_on_selector_all("#panels img, #split img", sources)
    page.select_option("#image", index=2)
    after = page.eval_on_selector_all("#panels img, #split img", sources)
    # input, truth, every model; the split's two
    assert len(before) == len(after) == 2 + len(models) + 2
    assert all(a != b for a, b in zip(before, after))
    rows = page.eval_on_selector_all("#image-metrics tr", "rows => rows.length")
    assert rows == 1 + len(models)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
