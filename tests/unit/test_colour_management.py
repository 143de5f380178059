"""Photos as their files mean them: embedded ICC profiles converted to sRGB, outputs tagged
sRGB, animations and multi-page files refused by name (colorlib.data.decode)."""

import io
import logging
import re
import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from colorlib.colorize import colorize_files
from colorlib.data import ImageError, find_images, load_images, load_rgb
from colorlib.networks import UnetGenerator

# D50-adapted primaries (the ICC PCS) and the tone curves of the two wide-gamut spaces that
# camera and scanner files carry most (Adobe RGB (1998) and ROMM / ProPhoto RGB)
SPACES = {
    "Adobe RGB (1998)": dict(
        primaries=((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446)),
        gamma=563 / 256,  # 2.19921875, as the Adobe profile stores it
    ),
    "ProPhoto RGB": dict(
        primaries=((0.7977, 0.2880, 0.0000), (0.1352, 0.7119, 0.0000), (0.0313, 0.0001, 0.8249)),
        gamma=461 / 256,  # 1.8 as u8Fixed8
    ),
}
D50 = (0.9642, 1.0, 0.8249)
SRGB_TO_XYZ_D50 = np.array(  # sRGB's primaries, Bradford-adapted to D50 (as in sRGB profiles)
    [[0.4360747, 0.3850649, 0.1430804],
     [0.2225045, 0.7168786, 0.0606169],
     [0.0139322, 0.0971045, 0.7141733]]
)  # fmt: skip


def _icc(name: str, primaries, gamma: float) -> bytes:
    """An ICC v2 RGB display profile (matrix + gamma curves), byte by byte as the spec says."""

    def xyz(v):
        return b"XYZ \0\0\0\0" + b"".join(struct.pack(">i", round(c * 65536)) for c in v)

    def curve():
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"

    desc = name.encode() + b"\0"
    no_unicode_or_script = bytes(4 + 4 + 2 + 1 + 67)
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(desc)) + desc + no_unicode_or_script),
        (b"cprt", b"text\0\0\0\0" + b"no copyright, test profile\0"),
        (b"wtpt", xyz(D50)),
        (b"rXYZ", xyz(primaries[0])),
        (b"gXYZ", xyz(primaries[1])),
        (b"bXYZ", xyz(primaries[2])),
        (b"rTRC", curve()),
        (b"gTRC", curve()),
        (b"bTRC", curve()),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 12, 3, 0, 0, 0) + b"acsp" + bytes(24) + struct.pack(">I", 0)
        + b"".join(struct.pack(">i", round(c * 65536)) for c in D50) + bytes(4 + 16 + 28)
    )  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def _encode(srgb: np.ndarray, primaries, gamma: float) -> np.ndarray:
    """uint8 sRGB -> uint8 values of the space (numpy, the spaces' definitions): what a camera
    or an editor writes into a file tagged with that space."""
    c = srgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ SRGB_TO_XYZ_D50.T
    space = np.linalg.solve(np.array(primaries).T, xyz.reshape(-1, 3).T).T.reshape(xyz.shape)
    return np.round(np.clip(space, 0, 1) ** (1 / gamma) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def bsds_photo(photos) -> np.ndarray:
    """A real BSDS500 test photo, uint8 sRGB."""
    return load_rgb(find_images(photos / "bsds500", "test")[0])


@pytest.mark.parametrize("space", SPACES)
def test_a_photo_with_an_embedded_profile_is_decoded_as_srgb(tmp_path, bsds_photo, space):
    spec = SPACES[space]
    values = _encode(bsds_photo, **spec)
    path = tmp_path / "tagged.jpg"
    Image.fromarray(values).save(path, quality=100, subsampling=0, icc_profile=_icc(space, **spec))
    info = {}
    got = load_rgb(path, info=info)
    assert info == {"icc": space}
    raw = np.asarray(Image.open(path).convert("RGB")).astype(float)  # the file's values
    error = np.abs(got.astype(float) - bsds_photo)
    raw_error = np.abs(raw - bsds_photo)
    # the profile matters (ProPhoto by ~12 levels, Adobe RGB by ~2) and the decode undoes it,
    # to JPEG and 8-bit rounding
    assert raw_error.mean() > 1.5 and error.mean() < 0.6 * raw_error.mean()
    assert error.mean() < 1.0, (space, error.mean(), raw_error.mean())
    # the same photo tagged sRGB, or untagged, is taken as it is
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for extra in ({"icc_profile": srgb}, {}):
        Image.fromarray(values).save(tmp_path / "plain.png", **extra)
        info = {}
        np.testing.assert_array_equal(load_rgb(tmp_path / "plain.png", info=info), values)
        assert info == {}


def test_a_folder_counts_its_converted_photos_and_colorize_writes_tagged_srgb(
    tmp_path, bsds_photo, caplog
):
    spec = SPACES["ProPhoto RGB"]
    folder = tmp_path / "photos"
    folder.mkdir()
    values = _encode(bsds_photo, **spec)
    Image.fromarray(values).save(folder / "prophoto.png", icc_profile=_icc("ProPhoto RGB", **spec))
    Image.fromarray(bsds_photo).save(folder / "srgb.png")
    with caplog.at_level(logging.INFO, logger="colorlib.data"):
        images = load_images(find_images(folder, None), 64)
    assert images.converted == {"prophoto.png": "ProPhoto RGB"}
    assert "converted 1 of 2 photos from their embedded ICC profiles to sRGB" in caplog.text

    torch.manual_seed(0)
    G = UnetGenerator(image_size=32, ngf=4).eval()
    written, failed, converted = colorize_files(G, [folder], tmp_path / "out")
    assert failed == {} and list(converted.values()) == ["ProPhoto RGB"]
    from skimage.color import rgb2lab

    for dst in written:
        with Image.open(dst) as out:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(out.info["icc_profile"]))
            assert "sRGB" in ImageCms.getProfileDescription(profile)
            out_L = rgb2lab(np.asarray(out.convert("RGB")))[..., 0]
    # the colorized ProPhoto photo keeps the lightness the input shows (it was 5 L* darker)
        assert abs(out_L.mean() - rgb2lab(bsds_photo)[..., 0].mean()) < 1.0, dst


def test_animations_and_multi_page_files_are_refused_by_name(tmp_path, sample, caplog):
    tiles = [Image.open(p).convert("RGB") for p in sorted((sample / "test").iterdir())[:3]]
    folder = tmp_path / "photos"
    folder.mkdir()
    tiles[0].save(folder / "still.png")
    tiles[0].save(folder / "anim.gif", save_all=True, append_images=tiles[1:], duration=100)
    tiles[0].save(folder / "pages.tif", save_all=True, append_images=tiles[1:])
    tiles[1].save(folder / "one_frame.gif")
    files = find_images(folder, None)
    assert len(files) == 4  # the GIFs are listed: every input is counted
    for name, what in (("anim.gif", "GIF file (3 frames"), ("pages.tif", "TIFF file (3 frames")):
        match = re.escape(f"{name}: an animation or multi-page {what}")
        with pytest.raises(ImageError, match=match) as e:
            load_rgb(folder / name)
        assert e.value.reason == "multi_frame"
    with caplog.at_level(logging.WARNING, logger="colorlib.data"):
        images = load_images(files, 32, on_bad="skip")
    assert sorted(images.names) == ["one_frame.gif", "still.png"]
    assert images.skipped == {"multi_frame": ["anim.gif", "pages.tif"]}

    torch.manual_seed(0)
    G = UnetGenerator(image_size=32, ngf=4).eval()
    written, failed, _ = colorize_files(G, [folder], tmp_path / "out")
    assert len(written) + len(failed) == 4 and sorted(p.name for p in written) == [
        "one_frame.png", "still.png"
    ]
    assert sorted(failed) == [str(folder / "anim.gif"), str(folder / "pages.tif")]
