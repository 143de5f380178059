"""The study's HTML page in a real browser: headless Chromium (Debian's) driven by Playwright."""

import contextlib
import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorlib.config import PRESETS
from colorlib.runs import StudyPaths


@pytest.fixture(scope="module")
def study(smoke_study) -> StudyPaths:
    """The session's smoke study (every configuration of both groups, and GRAY)."""
    return smoke_study.paths


@pytest.fixture(scope="module")
def models(study) -> list[str]:
    return list(pd.read_csv(study.report()["metrics"], index_col=0).index)


@contextlib.contextmanager
def _opened(chromium, path: Path):
    """``path`` in headless Chromium (:func:`conftest.chromium`); ``page.problems`` collects
    console and page errors, ``page.requests`` every URL asked for, ``window.__alerts`` every
    ``alert`` called."""
    with chromium(viewport={"width": 1200, "height": 900}) as page:
        page.add_init_script("window.__alerts = []; window.alert = m => window.__alerts.push(m);")
        page.goto(path.as_uri())
        yield page


@pytest.fixture
def page(study, chromium):
    with _opened(chromium, study.report()["page"]) as page:
        yield page


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


# test photos named to break out of the page's JSON, its HTML or a spreadsheet; six, so the
# viewer shows them all (colorlib.evaluation.GRID_ROWS) ("/" cannot
# be in a file name: "</script>" is tested in tests/unit/test_outputs.py)
HOSTILE_NAMES = (
    "<!--<script>alert(2)<", '=HYPERLINK("http:x") ]]>', "-2+3 \"quoted\" 'single'",
    "@SUM(A1) new\nline", "'apos sep\u2028line", "<img src=x onerror=alert(1)>",
)  # fmt: skip


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory, cli, sample):
    """A GRAY-only study (no trained configuration: the evaluation still runs) on a folder
    whose test photos carry :data:`HOSTILE_NAMES`; returns (its results folder, the names)."""
    root = tmp_path_factory.mktemp("hostile")
    photos = root / "photos"
    for split, n in (("train", 16), ("val", 4)):
        (photos / split).mkdir(parents=True)
        for p in sorted((sample / split).iterdir())[:n]:
            shutil.copy(p, photos / split / p.name)
    (photos / "test").mkdir()
    names = []
    for name, p in zip(HOSTILE_NAMES, sorted((sample / "test").iterdir())):
        shutil.copy(p, photos / "test" / f"{name}{p.suffix}")
        names.append(f"{name}{p.suffix}")
    done = cli.run_all(
        "--profile", "smoke", "--data", photos, "--models", "GRAY",
        "--set", f"max_test_images={len(names)}", "--set", f"cache_dir={root / 'cache'}",
        "--results-dir", root / "results", "--models-dir", root / "models",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "results", sorted(names)


def test_no_file_name_can_break_the_page(hostile_study, chromium):
    results, names = hostile_study
    with _opened(chromium, results / "Evaluate" / "report.html") as page:
        assert page.problems == [] and page.evaluate("window.__alerts") == []
        assert _column(page) == ["GRAY"]
        shown = page.eval_on_selector_all("#image option", "os => os.map(o => o.textContent)")
        saved = np.load(results / "GRAY" / "test_predictions_GRAY.npz")["names"]
        assert shown == list(saved) and sorted(shown) == names  # the names as they are
        # nothing the names hold became an element: the page's own two scripts, its own images
        assert page.eval_on_selector_all("script", "s => s.length") == 2
        assert page.eval_on_selector_all("[onerror], img[src='x']", "e => e.length") == 0
        page.select_option("#image", index=len(names) - 1)
        assert page.eval_on_selector_all("#image-metrics tr", "rows => rows.length") == 2
        assert page.problems == []


def test_no_file_name_is_a_formula_in_a_csv(hostile_study):
    from colorlib import atomic

    results, names = hostile_study
    path = results / "GRAY" / "metrics_per_image_GRAY.csv"
    with open(path, newline="", encoding="utf-8") as f:
        cells = [row["image"] for row in csv.DictReader(f)]  # as a spreadsheet reads them
    assert sorted(cells) == sorted(atomic.csv_cell(n) for n in names) and len(cells) == len(names)
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert sorted(atomic.read_csv(path)["image"]) == names  # colorlib reads the names back


def test_the_studys_cache_is_where_it_was_asked(hostile_study):
    results, _ = hostile_study
    # --set cache_dir=... reaches every notebook of the study (it was always data/cache)
    assert sorted((results.parent / "cache").glob("images_*.npy"))


def test_a_gray_study_rerun_on_other_data_is_refused(hostile_study, cli, sample):
    """GRAY's results are a run like any other: another --data into the same folders is
    refused, as it is for a trained configuration, and the earlier results stay (this test
    runs last in the module: it reruns the study into the fixture's folders). The other
    folder has the same training and validation photos (so the study's split is the same one)
    and other test photos."""
    results, _ = hostile_study
    metrics = results / "GRAY" / "metrics_GRAY.csv"
    before = metrics.read_bytes()
    other = results.parent / "other_photos"
    for split in ("train", "val"):
        shutil.copytree(results.parent / "photos" / split, other / split)
    (other / "test").mkdir()
    for p in sorted((sample / "test").iterdir())[-6:]:
        shutil.copy(p, other / "test" / p.name)
    done = cli.run_all(
        "--profile", "smoke", "--data", other, "--models", "GRAY",
        "--set", f"cache_dir={results.parent / 'cache'}",
        "--results-dir", results, "--models-dir", results.parent / "models",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "GRAY: " in done.stderr and "records a run of GRAY with another configuration" in (
        done.stderr
    )
    assert "data_dir" in done.stderr and "Traceback" not in done.stderr
    assert metrics.read_bytes() == before
