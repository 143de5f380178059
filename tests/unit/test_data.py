import json
import logging
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from colorlib import data
from colorlib.color import encode_lab, rgb_to_lab
from colorlib.data import (
    NO_AUGMENTATION,
    Augmentation,
    ColorizationDataset,
    ImageError,
    center_crop_resize,
    dataset_fingerprint,
    find_images,
    load_images,
    load_rgb,
)
from colorlib.errors import DataError


def _photo(h=48, w=64, seed=0) -> np.ndarray:
    """A smooth, colourful synthetic RGB image (uint8)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([x, y, 1 - x * y], axis=-1) * 200 + 20
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def _save(path, arr, **kw):
    Image.fromarray(arr).save(path, **kw)
    return path


def _photo_folder(folder, n: int, suffix: str = ".png", side: int | None = None, **kw):
    """``n`` synthetic photos ``0{suffix}``, ``1{suffix}``, ... in a new ``folder``; their list."""
    folder.mkdir()
    shape = {} if side is None else {"h": side, "w": side}
    for i in range(n):
        _save(folder / f"{i}{suffix}", _photo(seed=i, **shape), **kw)
    return find_images(folder, None)


def test_truncated_jpeg_names_the_file(tmp_path):
    good = _save(tmp_path / "good.jpg", _photo(), quality=95)
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg: unreadable or truncated") as err:
        load_rgb(tmp_path / "cut.jpg")
    assert err.value.reason == "corrupt"


def test_non_image_file_with_image_extension(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a photo")
    with pytest.raises(ImageError, match=r"notes\.jpg: not an image file"):
        load_rgb(tmp_path / "notes.jpg")


def test_exif_rotation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (220, 30, 30)  # stored: left half red
    arr[:, 20:] = (30, 30, 220)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90° clockwise
    _save(tmp_path / "rot.jpg", arr, exif=exif, quality=95)
    out = load_rgb(tmp_path / "rot.jpg")
    assert out.shape == (40, 20, 3)
    assert out[5, 10, 0] > 150 and out[35, 10, 2] > 150  # red on top, blue at the bottom


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:8] = (200, 0, 0, 255)  # opaque red
    rgba[8:] = (0, 200, 0, 0)  # fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_rgb(tmp_path / "a.png")
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[15, 15].tolist() == [255, 255, 255]


def test_cmyk_jpeg_is_converted(tmp_path):
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(tmp_path / "c.jpg", quality=95)  # cyan
    r, g, b = load_rgb(tmp_path / "c.jpg")[8, 8].astype(int)
    assert r < 20 and g > 235 and b > 235


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return struct.pack(">I", len(body)) + kind + body + crc


def _png(path, width, height, color_type, bit_depth, rows: bytes = b""):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def _png16(path, arr16: np.ndarray):
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit RGB)."""
    h, w = arr16.shape[:2]
    color_type = 2 if arr16.ndim == 3 else 0
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in arr16)
    _png(path, w, h, color_type, 16, rows)


def test_16bit_pngs(tmp_path):
    rgb16 = _photo().astype(np.uint16) * 257
    _png16(tmp_path / "rgb16.png", rgb16)
    out = load_rgb(tmp_path / "rgb16.png")
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - _photo()).max() <= 1
    gray16 = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    _png16(tmp_path / "gray16.png", gray16)
    with pytest.raises(ImageError, match="grayscale photo"):
        load_rgb(tmp_path / "gray16.png")
    g = load_rgb(tmp_path / "gray16.png", require_color=False)
    assert g[0, 0].tolist() == [0, 0, 0] and g[-1, -1].tolist() == [255, 255, 255]


def test_palette_images(tmp_path):
    Image.fromarray(_photo()).convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(
        tmp_path / "p.png"
    )
    assert np.abs(load_rgb(tmp_path / "p.png").astype(int) - _photo()).mean() < 8
    # a transparent left half (palette index 0) is composited onto white; the opaque right
    # half keeps its palette colours exactly
    p = Image.fromarray(_photo()).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    index = np.array(p)
    index[:, 32:][index[:, 32:] == 0] = 1
    index[:, :32] = 0
    half = Image.fromarray(index, mode="P")
    half.putpalette(p.getpalette())
    half.save(tmp_path / "pt.png", transparency=0)
    out = load_rgb(tmp_path / "pt.png", require_color=False)
    palette = np.array(p.getpalette(), dtype=np.uint8).reshape(-1, 3)
    assert out.shape == (48, 64, 3)
    assert (out[:, :32] == 255).all()
    np.testing.assert_array_equal(out[:, 32:], palette[index[:, 32:]])


def test_real_grayscale_photo_in_colour_folder(photos):
    with pytest.raises(ImageError, match=r"img_066\.jpg: grayscale photo") as err:
        load_rgb(photos / "urban100_512" / "img_066.jpg")
    assert err.value.reason == "grayscale"


def test_small_image_needs_explicit_upscale(tmp_path):
    small = _photo(20, 30)
    with pytest.raises(ImageError, match="smaller than image_size=32.*allow_upscale"):
        center_crop_resize(small, 32, path=tmp_path / "s.png")
    assert center_crop_resize(small, 32, allow_upscale=True).shape == (32, 32, 3)


def test_centre_crop_takes_the_middle():
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, 10:20] = 255
    assert center_crop_resize(arr, 10).min() == 255


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # 3.6 gigapixels claimed by a 100-byte file
    _png(tmp_path / "bomb.png", 60_000, 60_000, color_type=2, bit_depth=8, rows=b"\0" * 64)
    with pytest.raises(ImageError, match=r"bomb\.png: .*decompression bomb") as err:
        load_rgb(tmp_path / "bomb.png")
    assert err.value.reason == "too_large"
    _save(tmp_path / "ok.png", _photo())
    with pytest.raises(ImageError, match="exceeds max_pixels=1,000"):
        load_rgb(tmp_path / "ok.png", max_pixels=1000)


def _kaggle(tmp_path, color_names, black_names):
    for folder, names in (("train_color", color_names), ("train_black", black_names)):
        (tmp_path / folder).mkdir()
        for i, name in enumerate(names):
            _save(tmp_path / folder / name, _photo(seed=i))
    return tmp_path


def test_kaggle_layout_pairs_by_name(tmp_path):
    root = _kaggle(tmp_path, ["image0000.jpg", "image0001.jpg"], ["image0000.jpg", "image0001.jpg"])
    assert [p.name for p in find_images(root, "train")] == ["image0000.jpg", "image0001.jpg"]
    assert all(p.parent.name == "train_color" for p in find_images(root, "train"))


def test_kaggle_name_mismatch_is_an_error(tmp_path):
    root = _kaggle(tmp_path, ["image0000.jpg", "image0001.jpg"], ["image0000.jpg", "image0002.jpg"])
    with pytest.raises(ImageError, match=r"image0001\.jpg.*image0002\.jpg") as err:
        find_images(root, "train")
    assert err.value.reason == "mismatch"


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere does not exist.*--data"):
        find_images(tmp_path / "nowhere", "train")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "README.md").write_text("no photos here")
    with pytest.raises(FileNotFoundError, match=r"train holds no images"):
        find_images(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match=r"no split 'val'.*validation split"):
        find_images(tmp_path, "val")


def test_photo_folder_layouts(photos):
    bsds = photos / "bsds500"
    assert len(find_images(bsds, "train")) == 200
    assert len(find_images(bsds, ("train", "val"))) == 300
    flat = find_images(photos / "sun_hays80", None)
    assert len(flat) == 80 and all(p.suffix == ".jpg" for p in flat)  # SOURCE.md ignored


def test_skip_policy_counts_and_logs(tmp_path, caplog):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        _save(folder / f"c{i}.jpg", _photo(seed=i), quality=95)
    _save(folder / "gray.jpg", np.repeat(_photo()[..., :1], 3, axis=-1))
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    files = find_images(folder, None)
    with pytest.raises(ImageError, match=r"broken\.png"):
        load_images(files, 32)
    with caplog.at_level(logging.WARNING, logger="colorlib.data"):
        got = load_images(files, 32, on_bad="skip")
    assert len(got) == 3 and got.images.shape == (3, 32, 32, 3)
    assert got.skipped == {"corrupt": ["broken.png"], "grayscale": ["gray.jpg"]}
    assert "skipped 2 of 5 files (1 corrupt, 1 grayscale)" in caplog.text
    # the skip says what is wrong, not the advice to skip such files (issue 31, item 11)
    assert "gray.jpg: grayscale photo" in caplog.text and "on_bad" not in caplog.text
    with pytest.raises(ValueError, match="unknown on_bad"):
        load_images(files, 32, on_bad="ignore")


def test_decoded_once_and_cached(tmp_path, monkeypatch):
    files = _photo_folder(tmp_path / "p", 4)
    first = load_images(files, 32, cache_dir=tmp_path / "cache")
    # where load_images looks it up (patching colorlib.data's re-export would change nothing)
    monkeypatch.setattr(
        data.folders, "load_rgb", lambda *a, **k: pytest.fail("re-decoded a cached file")
    )
    again = load_images(files, 32, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(first.images, again.images)
    assert again.names == first.names


def test_real_photos_decode(photos):
    got = load_images(find_images(photos / "bsds500", "test")[:20], 64)
    assert got.images.shape == (20, 64, 64, 3) and got.images.dtype == np.uint8


def test_dataset_samples_and_seeded_augmentation():
    imgs = np.stack([_photo(64, 64, seed=i) for i in range(3)])
    plain = ColorizationDataset(imgs)
    L, ab = plain[1]
    assert L.shape == (1, 64, 64) and ab.shape == (2, 64, 64) and L.dtype == torch.float32
    expected = encode_lab(rgb_to_lab(torch.from_numpy(imgs[1]).permute(2, 0, 1)[None] / 255.0))
    torch.testing.assert_close(torch.cat([L, ab])[None], expected)

    a = ColorizationDataset(imgs, augment=Augmentation(), seed=42)
    b = ColorizationDataset(imgs, augment=Augmentation(), seed=42)
    for ds in (a, b):
        ds.set_epoch(3)
    assert all(torch.equal(a[i][1], b[i][1]) for i in range(3))
    first = a[0][1].clone()
    a.set_epoch(4)
    assert not torch.equal(first, a[0][1])
    off = ColorizationDataset(imgs, augment=NO_AUGMENTATION)
    torch.testing.assert_close(off[1][1], ab)


def test_dataset_rejects_wrong_arrays():
    with pytest.raises(ValueError, match=r"uint8 \(N, S, S, 3\)"):
        ColorizationDataset(np.zeros((2, 8, 8, 3), np.float32))


def test_split_holds_out_of_train_and_val_when_both_are_trained_on(sample, tmp_path):
    """The dataset's val/ folder is the validation set unless training uses it too; the held-out
    split depends on SPLIT_SEED only, so replicates over training seeds share it."""
    from colorlib.config import make_config
    from colorlib.data import create_validation_split, training_files

    own = create_validation_split(sample, tmp_path / "own.json")
    assert own["method"] == "the dataset's val/ folder"
    both = create_validation_split(
        sample, tmp_path / "both.json", n_val=5, train_splits=("train", "val")
    )
    assert both["method"] == "5 held out, seed 42" and len(both["val"]) == 5
    assert not set(both["val"]) & set(both["train"])
    assert len(both["train"]) + 5 == len(own["train"]) + len(own["val"])
    cfg = make_config(
        "A", "cpu", data_dir=str(sample), train_splits=("train", "val"), val_holdout=5
    )
    assert training_files(cfg) == training_files(cfg.replace(seed=7))


def test_an_empty_val_folder_is_an_error_never_a_silent_hold_out(sample, tmp_path):
    """A val/ folder is the validation set; one that holds no images is an error naming it
    (it used to be taken for no folder at all, and photos were held out instead). A dataset
    with no val/ folder holds photos out, as it should."""
    import shutil

    from colorlib.data import create_validation_split
    from colorlib.errors import MissingFileError

    data = tmp_path / "photos"
    shutil.copytree(sample / "train", data / "train")
    (data / "val").mkdir()
    with pytest.raises(MissingFileError, match=rf"{data / 'val'} holds no images"):
        create_validation_split(data, tmp_path / "split.json", n_val=5)
    assert not (tmp_path / "split.json").exists()
    (data / "val").rmdir()
    held = create_validation_split(data, tmp_path / "split.json", n_val=5)
    assert held["method"] == "5 held out, seed 42" and len(held["val"]) == 5


class _Mapping(torch.utils.data.Dataset):
    """In a DataLoader worker: how this process holds ``path`` (from /proc/self/smaps)."""

    def __init__(self, images: np.ndarray, path) -> None:
        self.images, self.path = images, str(path)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> dict:
        int(self.images[i].sum())  # read the photo: its pages are now resident
        fields, inside = {}, False
        with open("/proc/self/smaps") as smaps:
            for line in smaps:
                if line[0] in "0123456789abcdef" and " " in line and "-" in line.split()[0]:
                    inside = line.rstrip().endswith(self.path)
                elif inside and ":" in line:
                    key, value = line.split(":", 1)
                    fields[key] = fields.get(key, 0) + int(value.split()[0]) if "kB" in value else 0
        return {"worker": torch.utils.data.get_worker_info().id, **fields}


def test_cache_is_memory_mapped_and_shared_by_workers(tmp_path):
    files = _photo_folder(tmp_path / "photos", 6, side=96)
    images = load_images(files, 64, cache_dir=tmp_path / "cache")
    assert isinstance(images.images, np.memmap) and not images.images.flags.writeable
    (cache,) = (tmp_path / "cache").glob("*.npy")
    assert ColorizationDataset(images).images.data_ptr() == images.images.ctypes.data  # no copy
    loader = torch.utils.data.DataLoader(
        _Mapping(images.images, cache), batch_size=None, num_workers=2, shuffle=False
    )
    seen = list(loader)
    assert {s["worker"] for s in seen} == {0, 1}
    for s in seen:  # each worker maps the file; none holds a private copy of its pages
        assert s.get("Rss", 0) > 0, s
        assert s["Private_Dirty"] == 0 and s.get("Anonymous", 0) == 0, s


def test_stale_or_incomplete_caches_are_rebuilt(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    files = _photo_folder(folder, 3)
    first = load_images(files, 32, cache_dir=tmp_path / "cache")
    decoded = []
    real = data.folders.load_rgb
    monkeypatch.setattr(data.folders, "load_rgb", lambda p, **k: decoded.append(p) or real(p, **k))
    _save(folder / "1.png", _photo(seed=99))  # a changed photo: a new cache
    again = load_images(files, 32, cache_dir=tmp_path / "cache")
    assert len(decoded) == 3 and not np.array_equal(again.images[1], first.images[1])
    for index in (tmp_path / "cache").glob("*.json"):
        index.unlink()  # a cache without its index (a crash between the two writes)
    load_images(files, 32, cache_dir=tmp_path / "cache")
    assert len(decoded) == 6
    assert not list((tmp_path / "cache").glob(".*.tmp"))


def test_parallel_decoding_equals_serial_and_reports_in_file_order(tmp_path):
    folder = tmp_path / "photos"
    files = _photo_folder(folder, 8, ".jpg", quality=90)
    (folder / "5.jpg").write_bytes(b"not a jpeg")
    (folder / "6.jpg").write_bytes(b"not a jpeg either")
    serial = load_images(files, 32, on_bad="skip", processes=1)
    parallel = load_images(files, 32, on_bad="skip", processes=2, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(serial.images, parallel.images)
    assert serial.names == parallel.names and serial.skipped == parallel.skipped
    with pytest.raises(ImageError, match=r"5\.jpg: not an image file"):
        load_images(files, 32, processes=2)


def _real_photos(sample, folder, n=16):
    """``n`` of the embedded sample's real photo tiles copied into ``folder``; their list."""
    folder.mkdir()
    for p in sorted((sample / "train").iterdir())[:n]:
        (folder / p.name).write_bytes(p.read_bytes())
    return find_images(folder, None)


def test_a_cache_that_does_not_match_its_index_is_rebuilt_naming_it(tmp_path, sample, caplog):
    files = _real_photos(sample, tmp_path / "photos")
    truth = load_images(files, 32)  # no cache
    cache_dir = tmp_path / "cache"

    def cut_npy(npy, index):
        npy.write_bytes(npy.read_bytes()[: npy.stat().st_size // 2])

    def empty_npy(npy, index):
        npy.write_bytes(b"")

    def cut_names(npy, index):  # the index's list cut to 10 of 16 photos
        blob = json.loads(index.read_text())
        blob["names"] = blob["names"][:10]
        index.write_text(json.dumps(blob))

    def flipped_byte(npy, index):  # same size, one pixel changed
        raw = bytearray(npy.read_bytes())
        raw[-1] ^= 0xFF
        npy.write_bytes(bytes(raw))

    for damage in (cut_npy, empty_npy, cut_names, flipped_byte):
        load_images(files, 32, cache_dir=cache_dir)
        (npy,) = cache_dir.glob("*.npy")
        damage(npy, npy.with_suffix(".json"))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="colorlib.data"):
            got = load_images(files, 32, cache_dir=cache_dir)
        assert f"decode cache {npy} does not match its index" in caplog.text, damage.__name__
        np.testing.assert_array_equal(got.images, truth.images)
        assert got.names == truth.names and len(got) == 16
        again = load_images(files, 32, cache_dir=cache_dir)  # the rebuilt one is used
        np.testing.assert_array_equal(again.images, truth.images)


def test_a_replaced_photo_is_never_served_from_the_cache(tmp_path, sample):
    """A photo replaced by another of the same size and mtime: decoded anew, and the dataset
    fingerprint (the photos' content) changes; a copy of the same photos elsewhere has the
    same fingerprint."""
    files = _real_photos(sample, tmp_path / "photos")
    cache_dir = tmp_path / "cache"
    first = load_images(files, 32, cache_dir=cache_dir)
    by_size = sorted(files, key=lambda p: p.stat().st_size)
    small, big = by_size[0], by_size[-1]
    st = big.stat()
    # the smaller photo, padded after its PNG end to the larger one's size (Pillow ignores it)
    big.write_bytes(small.read_bytes().ljust(st.st_size, b"\0"))
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (big.stat().st_size, big.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    again = load_images(files, 32, cache_dir=cache_dir)
    i, j = files.index(big), files.index(small)
    np.testing.assert_array_equal(again.images[i], again.images[j])  # the new pixels
    assert not np.array_equal(again.images[i], first.images[i])
    assert dataset_fingerprint(again) != dataset_fingerprint(first)
    copy = _real_photos(sample, tmp_path / "copy")
    assert dataset_fingerprint(load_images(copy, 32)) == dataset_fingerprint(first)


def test_thousands_of_unusable_files_are_one_short_line(tmp_path):
    """Issue 31, item 11: 5,000 unusable files made one error line of 65,066 characters (every
    name); now each reason's count and first names (1,000 files here: the line's length does
    not depend on their number)."""
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(1000):
        (folder / f"not_a_photo_{i:04d}.jpg").write_bytes(b"text, not a JPEG")
    with pytest.raises(DataError) as err:
        load_images(find_images(folder, None), 32, on_bad="skip", processes=1)
    message = str(err.value)
    assert len(message) < 300, message
    assert "among 1000 files (skipped 1000 corrupt: not_a_photo_0000.jpg, " in message
    assert message.endswith("and 997 more)")


def test_colourful_only_leaves_out_desaturated_photos(tmp_path, sample, caplog):
    """Issue 30: BigColor's filter. Six real training tiles, two of them desaturated to a
    sepia-like 10 % of their colour: at 15 (BigColor's threshold) exactly the photos below it
    are left out, counted under low_colorfulness, named in the log."""
    from PIL import Image, ImageEnhance

    from colorlib.data.sources import colourful_only
    from colorlib.metrics import colorfulness

    folder = tmp_path / "train"
    folder.mkdir()
    sources = sorted((sample / "train").iterdir())[::8][:6]
    for i, src in enumerate(sources):
        image = Image.open(src).convert("RGB")
        if i < 2:
            image = ImageEnhance.Color(image).enhance(0.1)
        image.save(folder / f"{'faded' if i < 2 else 'photo'}_{i}.png")
    images = load_images(find_images(folder, None), 32)
    scores = dict(zip(images.names, colorfulness(images.images / 255.0)))
    assert all(scores[f"faded_{i}.png"] < 15 for i in range(2))
    with caplog.at_level(logging.INFO, logger="colorlib.data"):
        kept = colourful_only(images, 15.0)
    below = sorted(n for n, s in scores.items() if s < 15)
    assert kept.skipped["low_colorfulness"] == below and "faded_0.png" in below
    assert kept.names == [n for n in images.names if n not in below]
    assert len(kept.images) == len(kept.digests) == len(images) - len(below)
    assert f"left out {len(below)} of 6 training photos less colourful than 15" in caplog.text
    with pytest.raises(DataError, match="every one of the 6 training photos"):
        colourful_only(images, 1 + max(scores.values()))
