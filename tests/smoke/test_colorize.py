import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab

from colorlib.colorize import _upsample_rows, colorize_array
from colorlib.networks import UnetGenerator


@pytest.fixture
def photo(tmp_path):
    """A real, non-square colour photograph (scikit-image's coffee, 600x400) as a JPEG."""
    import skimage.data

    path = tmp_path / "coffee.jpg"
    Image.fromarray(skimage.data.coffee()).save(path, quality=95)
    return path


def test_strip_upsampling_equals_full_bilinear():
    ab = torch.randn(1, 2, 32, 32)
    full = torch.nn.functional.interpolate(
        ab, size=(301, 457), mode="bilinear", align_corners=False
    )
    strips = torch.cat(
        [_upsample_rows(ab, (301, 457), t, min(301, t + 64)) for t in range(0, 301, 64)], dim=2
    )
    torch.testing.assert_close(strips, full, atol=1e-5, rtol=0)


def test_colorized_photo_keeps_size_and_full_resolution_lightness(photo):
    torch.manual_seed(0)
    G = UnetGenerator(image_size=32, ngf=4).eval()
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    out = colorize_array(G, rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    # L comes from the full-resolution input: it survives up to gamut clipping and rounding
    dL = np.abs(rgb2lab(out)[..., 0] - rgb2lab(rgb)[..., 0])
    assert np.median(dL) < 0.5


def test_cli_colorizes_any_size_and_reports_failures(tmp_path, smoke_study, cli, photo):
    """The test suite's smoke study's A, through the command line."""
    best = smoke_study.paths.run("A").best
    gray = tmp_path / "gray_wide.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (90, 1))).save(gray)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"nope")
    out = tmp_path / "out"
    done = cli("colorize", photo, gray, broken, "--checkpoint", best, "--out", out,
               "--device", "cpu")  # fmt: skip
    assert done.returncode == 1  # one input failed
    assert "broken.jpg" in done.stderr
    assert Image.open(out / "coffee.jpg").size == Image.open(photo).size
    assert Image.open(out / "gray_wide.png").size == (300, 90)
    assert not (out / "broken.jpg").exists()
    done = cli("colorize", photo, "--checkpoint", best, "--out", tmp_path / "out2",
               "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_two_colorize_runs_into_one_folder_never_mix(tmp_path, smoke_study, cli, sample):
    """Issue 31, item 2: A and B started together into one --out: one writes every output,
    the other is refused with one line (the folder is in use, or its outputs exist), and
    what is there equals the winner's own run into a fresh folder."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, src in enumerate(sorted((sample / "train").iterdir())[:30]):
        Image.open(src).save(photos / f"p{i:02d}.png")
    out = tmp_path / "out"
    runs = {m: cli.start("colorize", photos, "--out", out, "--device", "cpu", "--checkpoint",
                         smoke_study.paths.run(m).best) for m in ("A", "B")}  # fmt: skip
    done = {m: (p.wait(timeout=600), p.stderr.read()) for m, p in runs.items()}
    winners = [m for m, (code, _) in done.items() if code == 0]
    assert len(winners) == 1, done
    (loser,) = set(done) - set(winners)
    code, err = done[loser]
    assert code == 2 and "Traceback" not in err
    assert "in use" in err or "exist" in err, err
    alone = tmp_path / "alone"
    again = cli("colorize", photos, "--out", alone, "--device", "cpu", "--checkpoint",
                smoke_study.paths.run(winners[0]).best)  # fmt: skip
    assert again.returncode == 0, again.stderr
    written = sorted(p.name for p in out.glob("*.png"))
    assert len(written) == 30
    for name in written:
        assert np.array_equal(np.asarray(Image.open(out / name)),
                              np.asarray(Image.open(alone / name))), name  # fmt: skip
