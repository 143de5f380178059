"""The notebooks as their users open them: a real JupyterLab (this environment's, as `make lab`
starts it) on localhost, driven through its UI by Playwright in Debian's headless Chromium.

``explore.ipynb`` on the session's smoke study: Run > Run All Cells, the kernel goes idle, no
error outputs, the widgets render (no "Loading widget..."), the slider and the model picker
change the shown images, and a photo uploaded through the upload button is shown colorized by
every trained configuration; on a study whose test photos are named as HTML with an
``onerror`` script, every name shows as written and nothing runs. ``train_model.ipynb`` with
its smoke defaults: run all, the history figure and the metrics table appear. No console
errors, and no request leaves localhost. Screenshots go under the test's temp folder
(``docs/jupyterlab_explore.png`` is one of them).
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from colorlib.study.notebooks import EXPLORE, TRAIN

TOKEN = "colorlib-browser-test"
RUN_TIMEOUT_MS = 600_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free localhost port, serving a folder with ``train_model.ipynb`` as
    committed (each explore test adds its own ``explore`` notebook: :func:`_explore`).
    ``COLORLIB_ROOT`` is that folder, so the template's relative outputs (``models/smoke``)
    land there."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(TRAIN.path, root / TRAIN.name)
    port = _free_port()
    env = os.environ | {
        "COLORLIB_ROOT": str(root),
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),  # no user settings, no workspace state
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".jupyter" / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".jupyter" / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(root / ".jupyter" / "runtime"),
    }
    # no "notified about official Jupyter news?" toast over the notebook
    news = root / ".jupyter/settings/@jupyterlab/apputils-extension"
    news /= "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}), encoding="utf-8")
    log = open(root / "jupyterlab.log", "w")  # noqa: SIM115 - open while the server runs
    lab_args = [*LAB_ARGS, f"--port={port}", f"--IdentityProvider.token={TOKEN}"]
    # `make lab` itself, with this interpreter (-o weights: the environment is this one)
    server = subprocess.Popen(
        ["make", "-s", "-o", "weights", "lab", f"PY={sys.executable}", f"LAB_ROOT={root}",
         f"LAB_ARGS={' '.join(lab_args)}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, root / "jupyterlab.log")
        yield Lab(url, root)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)  # make and the server under it
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


ROOT = Path(__file__).resolve().parents[2]
# what keeps a test server to itself, on top of `make lab`'s own (localhost, encrypted kernel
# transport): no browser of its own, no update check or news feed (requests to jupyter.org),
# no extension search on PyPI; and the app as `window.jupyterapp`, for the tests to read a
# session's kernel state (KERNEL below)
LAB_ARGS = [
    "--no-browser",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.news_url=None",
    "--LabApp.extension_manager=readonly",
    "--LabApp.expose_app_in_browser=True",
]


class Lab:
    def __init__(self, url: str, root: Path) -> None:
        self.url, self.root = url, root

    def notebook(self, name: str) -> dict:
        return json.loads((self.root / name).read_text(encoding="utf-8"))


def _explore(lab: Lab, name: str, study, photo: str = "") -> str:
    """``explore.ipynb`` as ``name`` in the lab's folder with ``study``'s folders (and
    ``photo``) filled in: papermill's parameter injection, as run_all does."""
    import papermill

    papermill.execute_notebook(
        str(EXPLORE.path),
        str(lab.root / name),
        parameters={"results_dir": str(study.results), "models_dir": str(study.models),
                    "photo": photo},  # fmt: skip
        prepare_only=True,
        progress_bar=False,
    )
    return name


def _wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within 120 s:\n{log.read_text()}")


@pytest.fixture
def browser_page(lab, chromium):
    with chromium(viewport={"width": 1400, "height": 1000}) as page:
        page.set_default_timeout(60_000)
        yield page


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook shown (not a hidden tab)


def _open(page, lab: Lab, name: str) -> None:
    """``name`` alone in a workspace of its own (nothing restored from an earlier page), its
    kernel started and idle, the notebook focused."""
    page.goto(f"{lab.url}/lab/workspaces/{Path(name).stem}/tree/{name}?token={TOKEN}")
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="visible")
    _wait_for_kernel(page, "idle")
    page.locator(f"{PANEL} .jp-Cell").first.click()


# the shown notebook's kernel, as a JavaScript expression: its session's own, not the toolbar's
# execution indicator, which reads 'idle' from the moment a notebook opens, before any kernel
# exists (a Run All clicked then queues nothing, or asks which kernel to start: it did, 2 of
# the 3 Run Alls of one run of these tests on a loaded machine, 2026-12-06)
KERNEL = "window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"


def _wait_for_kernel(page, status: str, timeout: float = 60_000) -> None:
    """Until the shown notebook's kernel is connected and its status is ``status``."""
    page.wait_for_function(
        f"() => {{ const k = {KERNEL}; return k?.connectionStatus === 'connected'"
        f" && k.status === '{status}'; }}",
        timeout=timeout,
    )


# the shown notebook's code-cell prompts, as a JavaScript array; a run cell's reads [n]
PROMPTS = f"[...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]"
RAN = "/\\[\\d+\\]/"


STARTED_MS = 30_000  # a Run All that has queued no cell by then has failed to start


def _run_all(page) -> None:
    """Run > Run All Cells from the menu bar, then wait until the run has ended: the first code
    cell has run, none is running or queued (``[*]``) and the kernel is idle. A cell that raises
    ends Run All there (the cells after it keep an empty prompt): the saved notebook's error
    output then names it, where waiting for every prompt would wait out the timeout. A Run All
    that queues nothing (no kernel: ``_open`` waits for one) fails at once with what is shown.
    (Started means the first code cell has run or some cell is queued: a committed notebook
    may keep an old count on a later cell.)"""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']:not(.lm-mod-disabled)").click()
    try:
        page.wait_for_function(
            f"""() => {{
                const prompts = {PROMPTS};
                return prompts.length > 0 && ({RAN}.test(prompts[0].textContent)
                    || prompts.some(p => p.textContent.includes('*')));
            }}""",
            timeout=STARTED_MS,
        )
    except PlaywrightTimeout as err:
        wait_s = STARTED_MS / 1000
        raise AssertionError(f"Run All queued no cell in {wait_s:.0f} s: {_state(page)}") from err
    try:
        page.wait_for_function(
            f"""() => {{
                const prompts = {PROMPTS};
                return prompts.length > 0 && {RAN}.test(prompts[0].textContent)
                    && prompts.every(p => !p.textContent.includes('*'));
            }}""",
            timeout=RUN_TIMEOUT_MS,
        )
    except PlaywrightTimeout as err:
        timeout_s = RUN_TIMEOUT_MS / 1000
        raise AssertionError(f"Run All did not end in {timeout_s:.0f} s: {_state(page)}") from err
    _wait_for_kernel(page, "idle", RUN_TIMEOUT_MS)


def _state(page) -> dict:
    """What the shown notebook looks like: its prompts, its kernel's status, any dialog."""
    return page.evaluate(
        f"""() => ({{
            prompts: {PROMPTS}.map(p => p.textContent.trim()),
            kernel: {KERNEL}?.status ?? 'none',
            dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText),
        }})"""
    )


def _unrun(page) -> int:
    """Code cells of the shown notebook whose prompt has no execution count."""
    return page.evaluate(f"() => {PROMPTS}.filter(p => !{RAN}.test(p.textContent)).length")


def _save(page, lab: Lab, name: str) -> dict:
    """File > Save (Ctrl+S), then the notebook as the server stored it."""
    before = (lab.root / name).stat().st_mtime_ns
    page.keyboard.press("Control+s")
    deadline = time.time() + 30
    while (lab.root / name).stat().st_mtime_ns == before and time.time() < deadline:
        time.sleep(0.2)
    return lab.notebook(name)


def _errors(notebook: dict) -> list[str]:
    return [
        f"{o['ename']}: {o['evalue']}"
        for cell in notebook["cells"]
        for o in cell.get("outputs", [])
        if o["output_type"] == "error"
    ]


def _run_through_the_ui(page, lab: Lab, name: str) -> None:
    """Open ``name``, Run All Cells, save it: the saved notebook holds no error output."""
    _open(page, lab, name)
    _run_all(page)
    errors = _errors(_save(page, lab, name))
    assert not errors, errors
    assert _unrun(page) == 0, "Run All ended before the last cell, with no error output"


def _no_console_error_and_only_localhost(page, lab: Lab) -> None:
    assert not page.problems, page.problems
    outside = [u for u in page.requests if not u.startswith((lab.url, "blob:", "data:"))]
    assert not outside, outside


def _shown(page, output: int) -> list[str]:
    """The pixels (as a PNG data URL) of every image in the ``output``-th code cell's output
    area, once all are loaded (their ``src`` is a new blob URL whenever a view is redrawn)."""
    return page.eval_on_selector_all(
        f"{PANEL} .jp-CodeCell",
        f"""cells => [...cells[{output}].querySelectorAll('.jp-OutputArea img')].map(i => {{
            if (!i.complete || !i.naturalWidth) return null;
            const c = document.createElement('canvas');
            c.width = i.naturalWidth; c.height = i.naturalHeight;
            c.getContext('2d').drawImage(i, 0, 0);
            return c.toDataURL();
        }})""",
    )


def _labels(page, output: int) -> list[str]:
    return page.eval_on_selector_all(
        f"{PANEL} .jp-CodeCell",
        f"cells => [...cells[{output}].querySelectorAll('.widget-label')].map(l => l.textContent)",
    )


def _changes(page, output: int, before: list[str], what: str) -> list[str]:
    deadline = time.time() + 30
    while time.time() < deadline:
        now = _shown(page, output)
        if now != before and None not in now:
            return now
        time.sleep(0.2)
    pytest.fail(f"{what} did not change the shown images")


def test_explore_in_jupyterlab(lab, smoke_study, browser_page, tmp_path):
    page = browser_page
    _run_through_the_ui(page, lab, _explore(lab, EXPLORE.name, smoke_study.paths))
    assert page.get_by_text("Loading widget...").count() == 0
    assert page.locator(f"{PANEL} .jupyter-widgets.widget-slider").count() == 1
    assert page.locator(f"{PANEL} .widget-upload").count() == 1
    # code cells: the injected parameters, the parameters, the browser, the colorizer
    browser_cell, colorizer_cell = 2, 3
    shown = _shown(page, browser_cell)
    assert len(shown) == 3 and None not in shown  # input (L), ground truth, the model
    models = list(pd.read_csv(smoke_study.paths.report()["metrics"], index_col=0).index)
    trained = [m for m in models if m != "GRAY"]

    page.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    moved = _changes(page, browser_cell, shown, "moving the slider")
    assert moved[0] != shown[0] and moved[1] != shown[1]  # another test image

    picker = page.locator(".widget-dropdown select").first
    first = picker.input_value()
    picker.select_option(trained[1] if first == trained[0] else trained[0])
    picked = _changes(page, browser_cell, moved, "choosing another model")
    assert picked[:2] == moved[:2] and picked[2] != moved[2]  # same image, other model
    page.screenshot(path=str(tmp_path / "explore_browser.png"))

    import skimage.data

    photo = tmp_path / "my photo.jpg"  # a real photo of another size than the test tiles
    Image.fromarray(skimage.data.astronaut()).save(photo, quality=92)
    with page.expect_file_chooser() as chooser:  # the button opens the browser's file dialog
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(photo))
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('.widget-label')]
                  .some(l => l.textContent === {json.dumps("my photo.jpg (as gray)")})""",
        timeout=120_000,
    )
    labels = _labels(page, colorizer_cell)
    assert labels[labels.index("my photo.jpg (as gray)") + 1 :] == trained
    # the whole notebook in one picture (docs/jupyterlab_explore.png is one of these)
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.locator(f"{PANEL} .jp-Cell").first.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "explore_upload.png"))
    _no_console_error_and_only_localhost(page, lab)


def test_train_model_in_jupyterlab(lab, browser_page, tmp_path):
    page = browser_page
    _run_through_the_ui(page, lab, TRAIN.name)
    figures = page.locator(f"{PANEL} .jp-OutputArea-output img")
    assert figures.count() >= 3  # the history, the last validation samples, the test results
    tables = page.locator(f"{PANEL} .jp-OutputArea-output table")
    assert tables.count() >= 2  # the history and the metrics
    metrics = tables.last.inner_text()
    assert "psnr" in metrics and "ciede2000" in metrics
    assert (lab.root / "models" / "smoke" / "A" / "best_model.pt").exists()
    page.screenshot(path=str(tmp_path / "train_model.png"))
    _no_console_error_and_only_localhost(page, lab)


# HTML that runs script when a page sets it as innerHTML (ipywidgets' HTML widget does)
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory, cli, sample):
    """A study of GRAY whose test photos are all named ``HOSTILE`` + a number, and a photo of
    such a name for the colorizer."""
    from colorlib.runs import StudyPaths

    root = tmp_path_factory.mktemp("hostile")
    photos = root / "photos"
    for split in ("train", "val"):
        shutil.copytree(sample / split, photos / split)
    (photos / "test").mkdir()
    for i, src in enumerate(sorted((sample / "test").iterdir())[:4]):
        shutil.copy(src, photos / "test" / f"{HOSTILE}{i}.png")
    study = StudyPaths(results=root / "results", models=root / "models")
    done = cli.run_all("--profile", "smoke", "--data", photos, "--models", "GRAY",
                       "--models-dir", study.models, "--results-dir", study.results)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return study, photos / "test" / f"{HOSTILE}0.png"


def test_names_are_text_in_jupyterlab(lab, hostile_study, browser_page):
    """Issue 31, item 1: photos named as HTML in explore.ipynb, in the browser: the metrics
    line and the colorizer's label show each name as written, no element is injected and no
    script runs (the name's onerror would set the page's title)."""
    study, photo = hostile_study
    page = browser_page
    _run_through_the_ui(page, lab, _explore(lab, "explore_names.ipynb", study, str(photo)))
    browser_cell, colorizer_cell = 2, 3
    line = page.locator(f"{PANEL} .widget-html").first.inner_text()
    assert line.startswith(f"{HOSTILE}0.png — GRAY: psnr "), line
    assert _labels(page, colorizer_cell)[0] == f"{HOSTILE}0.png (as gray)"
    assert page.locator(f"{PANEL} img[src='x']").count() == 0
    assert "pwned" not in page.evaluate("document.title")
    assert len(_shown(page, browser_cell)) == 3
    _no_console_error_and_only_localhost(page, lab)
