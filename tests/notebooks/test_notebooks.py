"""Notebook tier: papermill executes each notebook with smoke parameters into tmp_path, and the
tests read back what the package wrote."""

import json

import nbformat
import pandas as pd
import pytest

from colorlib.config import PRESETS
from colorlib.errors import StepFailedError
from colorlib.study.notebooks import EVALUATE, NOTEBOOKS, TRAIN, check_parameters, execute


def _run(name, out, **parameters):
    """The notebook ``name`` executed as the study executes it (colorlib's own papermill call,
    ``colorlib.study.notebooks.execute``), read back."""
    (notebook,) = [n for n in NOTEBOOKS if n.name == name]
    execute(notebook, out, parameters)
    return nbformat.read(out, as_version=4)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.name)
def test_notebooks_are_thin_and_parameterised(notebook):
    nb = nbformat.read(notebook.path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "def " not in cell.source and "class " not in cell.source
            assert "sys.path" not in cell.source
            keep = "NBVAL_CHECK_OUTPUT" in cell.metadata.get("tags", [])
            assert keep or not cell.outputs, "outputs are kept only where nbval checks them"
    for line in params[0].source.splitlines():  # literals only
        assert " = " in line and "(" not in line, line


def test_split_notebook_writes_and_protects_the_split(tmp_path, sample):
    data = tmp_path / "photos"  # a photo folder with train/ but no val/: 10 are held out
    data.mkdir()
    (data / "train").symlink_to(sample / "train", target_is_directory=True)
    n_train = len(list((sample / "train").glob("*.png")))
    split = tmp_path / "split.json"

    def make_split(out, seed):
        nb = "create_validation_split.ipynb"
        return _run(nb, out, data_dir=str(data), split_file=str(split), n_val=10, seed=seed)

    make_split(tmp_path / "s.ipynb", seed=42)
    written = json.loads(split.read_text())
    assert len(written["val"]) == 10 and len(written["train"]) == n_train - 10
    assert not set(written["val"]) & set(written["train"])
    # same parameters: fine; a different split: refused, the file is untouched
    make_split(tmp_path / "s2.ipynb", seed=42)
    with pytest.raises(StepFailedError, match="different validation split"):
        make_split(tmp_path / "s3.ipynb", seed=7)
    assert json.loads(split.read_text()) == written


def test_train_then_evaluation_notebooks(smoke_study):
    """The template notebook once per configuration and the evaluation notebook, as the
    session's smoke study executed them through papermill; the tests read what they wrote."""
    study = smoke_study.paths
    models = [*PRESETS, "GRAY"]
    for model in models:
        executed = nbformat.read(study.run(model).notebook, as_version=4)
        assert executed.metadata["papermill"]["parameters"]["model_id"] == model
    a = pd.read_csv(study.run("A").metrics_csv)
    assert a.loc[0, "n_images"] == 4 and a.loc[0, "val_loss"] > 0
    assert study.run("B").history_png.stat().st_size > 0
    nb = nbformat.read(study.evaluate / EVALUATE.name, as_version=4)
    assert f"{len(models)} model(s): {', '.join(models)}" in "".join(
        o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
    )
    files = study.report()
    table = pd.read_csv(files["metrics"], index_col=0)
    assert list(table.index) == models
    assert table["overall_score"][list(PRESETS)].between(0, 1).all()  # trained configurations
    assert pd.isna(table.loc["GRAY", "overall_score"])
    for key in ("ranking", "claims", "comparisons"):
        assert files[key].stat().st_size > 0
    inference = pd.read_csv(files["inference"])
    assert inference.set_index("model").loc["A", "parameters"] == 261_202
    paired = pd.read_csv(files["paired"])
    assert set(paired["model"]) == set(models) - {"A"}
    for key in ("bars", "distributions", "history", "grid", "colorfulness_plot", "page"):
        assert files[key].stat().st_size > 0, key
    assert study.test_image(1).stat().st_size > 0


def test_explore_notebook_on_a_study(smoke_study, tmp_path):
    """Headless with its defaults on the study's results: the browser's widgets and the example
    photograph colorized by every trained model (GRAY has no checkpoint)."""
    study = smoke_study.paths
    nb = _run(
        "explore.ipynb",
        tmp_path / "explore.ipynb",
        results_dir=str(study.results),
        models_dir=str(study.models),
    )
    views = [
        o for c in nb.cells for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]  # fmt: skip
    assert len(views) == 2
    state = json.dumps(nb.metadata.get("widgets", {}))
    assert all(f'"{m}"' in state for m in PRESETS) and "coffee (scikit-image)" in state


def test_unknown_parameters_are_refused():
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['modle_id'\]"):
        check_parameters(TRAIN.path, {"modle_id": "A"})


@pytest.mark.parametrize("manager", ["jupyter_client's", "the study's"])
def test_the_study_kernel_is_encrypted_and_shut_down_without_an_interrupt(manager):
    """A real kernel started by the manager papermill is given: its connection has CurveZMQ
    keys (so ipykernel prints no plain-TCP warning), and shutting it down sends no SIGINT
    (which printed "KeyboardInterrupt caught in kernel" when it met a message handler).
    jupyter_client's own manager, the control, sends one."""
    import asyncio
    import signal

    import zmq
    from jupyter_client.manager import AsyncKernelManager

    from colorlib.study.notebooks import kernel_manager_class

    cls = kernel_manager_class() if manager == "the study's" else AsyncKernelManager

    async def start_and_stop() -> tuple[list[int], dict]:
        km = cls(kernel_name="python3")
        await km.start_kernel()
        sent = []
        send = km.provisioner.send_signal

        async def counted(signum):
            sent.append(signum)
            await send(signum)

        km.provisioner.send_signal = counted
        client = km.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        info = km.get_connection_info()
        client.stop_channels()
        await km.shutdown_kernel()
        return sent, info

    sent, info = asyncio.run(start_and_stop())
    if manager == "the study's":
        assert signal.SIGINT not in sent
        if zmq.has("curve"):
            assert info.get("curve_publickey")
    else:
        assert signal.SIGINT in sent


def test_names_are_text_in_every_widget(tmp_path, sample, cli):
    """Issue 31, item 1 (the widget half): a test photo named as an HTML element with a script
    in it is escaped in the explore notebook's HTML widget; every other name is in a text
    widget (Label, Dropdown). The names come from a real evaluation of real photos."""
    import shutil

    from colorlib.study.explore import test_image_browser

    photos = tmp_path / "photos"
    for split in ("train", "val", "test"):
        shutil.copytree(sample / split, photos / split)
    hostile = "<img src=x onerror=\"document.title='pwned'\">.png"
    first = sorted((photos / "test").iterdir())[0]
    first.rename(first.with_name(hostile))
    done = cli("evaluate", "--model", "GRAY", "--profile", "smoke", "--data", photos,
               *cli.roots(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    browser = test_image_browser(tmp_path / "results", tmp_path / "models")
    html_widgets = [w for w in _widgets(browser) if type(w).__name__ == "HTML"]
    assert html_widgets and all("<img" not in w.value for w in html_widgets)
    assert any("&lt;img src=x onerror=" in w.value for w in html_widgets)


def _widgets(root):
    yield root
    for child in getattr(root, "children", ()):
        yield from _widgets(child)
