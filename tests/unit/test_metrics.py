import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from skimage.color import lab2rgb
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorlib.color import decode_lab, encode_lab, rgb_to_lab
from colorlib.metrics import (
    EVAL_CHUNK,
    LPIPS,
    ciede2000,
    colorfulness,
    evaluate_pair,
    overall_score,
    psnr,
    set_value,
    ssim,
)
from colorlib.networks import GRAY


def test_ciede2000_reproduces_sharma_in_both_orders(reference):
    t = pd.read_csv(reference / "ciede2000_sharma2005.csv")
    assert len(t) == 34
    lab1, lab2 = t[["L1", "a1", "b1"]].to_numpy(), t[["L2", "a2", "b2"]].to_numpy()
    np.testing.assert_allclose(ciede2000(lab1, lab2), t["dE00"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(ciede2000(lab2, lab1), t["dE00"], atol=1e-4, rtol=0)


def test_ciede2000_matches_colormath_on_random_pairs():
    from colormath.color_diff import delta_e_cie2000
    from colormath.color_objects import LabColor

    np.asscalar = lambda a: a.item()  # colormath 3.0.0 calls the removed numpy.asscalar
    rng = np.random.default_rng(2)
    n = 300
    lab1 = np.stack(
        [rng.uniform(0, 100, n), rng.uniform(-100, 100, n), rng.uniform(-100, 100, n)], axis=1
    )
    lab2 = lab1 + rng.normal(0, 15, (n, 3))
    expected = [delta_e_cie2000(LabColor(*p), LabColor(*q)) for p, q in zip(lab1, lab2)]
    # colormath differs in float rounding only (worst seen 8e-6); Sharma's data are to 1e-4
    np.testing.assert_allclose(ciede2000(lab1, lab2), expected, atol=1e-4, rtol=0)


def test_ciede2000_is_per_pixel_and_accepts_torch():
    rng = np.random.default_rng(3)
    a = rng.uniform(-50, 50, (2, 5, 7, 3)) + [50, 0, 0]
    b = a + rng.normal(0, 3, a.shape)
    out = ciede2000(a, b)
    assert out.shape == (2, 5, 7)
    np.testing.assert_allclose(ciede2000(torch.from_numpy(a), torch.from_numpy(b)), out)
    assert np.all(ciede2000(a, a) == 0)
    with pytest.raises(ValueError, match="channel-last"):
        ciede2000(a[..., :2], b[..., :2])


def _noisy_pair(dtype=np.float64, shape=(3, 40, 56, 3)):
    rng = np.random.default_rng(4)
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0, 0.08, shape), 0, 1)
    return a.astype(dtype), b.astype(dtype)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_psnr_and_ssim_equal_skimage(dtype, tol):
    a, b = _noisy_pair(dtype)
    for i in range(len(a)):
        assert psnr(a[i], b[i], data_range=1.0) == pytest.approx(
            peak_signal_noise_ratio(a[i], b[i], data_range=1.0), abs=tol
        )
        assert ssim(a[i], b[i], data_range=1.0) == pytest.approx(
            structural_similarity(a[i], b[i], channel_axis=-1, data_range=1.0), abs=tol
        )
    assert psnr(a, b, data_range=1.0).shape == (3,)
    assert ssim(a, b, data_range=1.0).shape == (3,)
    a255, b255 = a * 255, b * 255
    assert ssim(a255[0], b255[0], data_range=255.0) == pytest.approx(
        structural_similarity(a255[0], b255[0], channel_axis=-1, data_range=255.0), abs=tol
    )


def test_psnr_ssim_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)), data_range=1.0)
    with pytest.raises(TypeError):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))  # data_range is required


def test_colorfulness_hasler_susstrunk():
    gray = np.full((4, 4, 3), 0.5)
    assert colorfulness(gray) == 0.0
    # pure red everywhere: rg = 255, yb = 127.5, no spread -> M = 0.3 * sqrt(255² + 127.5²)
    red = np.zeros((4, 4, 3))
    red[..., 0] = 1
    assert colorfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))
    # half red, half green: signed rg = ±255 (no abs), mean 0
    rg = np.zeros((2, 2, 3))
    rg[0, :, 0] = 1
    rg[1, :, 1] = 1
    expected = np.sqrt(255.0**2 + 0.0**2) + 0.3 * np.hypot(0, 127.5)
    assert colorfulness(rg) == pytest.approx(expected)
    assert colorfulness(np.stack([gray, red])).shape == (2,)


def test_overall_score_reproduces_the_original_table(reference):
    t = pd.read_csv(reference / "seed_results.csv").set_index("model")
    score = overall_score(t[["psnr", "ssim", "ciede2000", "lpips"]])
    assert np.abs(score - t["overall_score"]).max() <= 0.001
    assert score.idxmax() == "A"


def test_overall_score_requires_columns_and_handles_ties():
    with pytest.raises(ValueError, match="missing"):
        overall_score(pd.DataFrame({"psnr": [1.0, 2.0]}))
    df = pd.DataFrame(
        {"psnr": [20.0, 30.0], "ssim": [0.9, 0.9], "ciede2000": [5.0, 10.0], "lpips": [0.2, 0.1]},
        index=["x", "y"],
    )
    s = overall_score(df)
    assert s["x"] == pytest.approx((0 + 1 + 1 + 0) / 4)
    assert s["y"] == pytest.approx((1 + 1 + 0 + 1) / 4)


def _load(path) -> torch.Tensor:
    arr = np.array(Image.open(path).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1)[None] / 127.5 - 1


@pytest.mark.slow  # a reference check: the full suite, not test-fast
@pytest.mark.weights
def test_lpips_reproduces_the_official_calibration(reference):
    expected = pd.read_csv(reference / "lpips_calibration" / "expected.csv")
    metric = LPIPS()
    assert metric.weights_source.imagenet_verified
    for _, row in expected.iterrows():
        ref = _load(reference / "lpips_calibration" / "ref" / f"{row['image']}.png")
        dist = _load(reference / "lpips_calibration" / "dist" / f"{row['image']}.png")
        value = metric(dist, ref).item()
        assert f"{value:.4g}" == f"{row['lpips_alex_v0.1']:.4g}", (row["image"], value)


def test_lpips_random_backbone_is_labelled_and_batched():
    metric = LPIPS(backbone="random")
    assert metric.weights_source.kind == "random"
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    out = metric(x, x.flip(0))
    assert out.shape == (3,)
    assert metric(x, x).abs().max() == 0
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        metric(x, x[:, :2])


# evaluate_pair's keys in the per-image CSV's column order (written out: the test's expectation)
PAIR_KEYS = [
    "psnr",
    "ssim",
    "ciede2000",
    "lpips",
    "colorfulness_pred",
    "delta_cf",
    "colorfulness_true",
    "out_of_gamut",
]


def _lab_batch(n=2, size=32, seed=5):
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    lab = encode_lab(rgb_to_lab(rgb))
    return lab[:, :1], lab[:, 1:]


def test_evaluate_pair_perfect_and_gray():
    L, ab = _lab_batch()
    perfect = evaluate_pair(L, ab, ab)
    np.testing.assert_allclose(perfect["ciede2000"], 0, atol=1e-9)
    np.testing.assert_allclose(perfect["ssim"], 1, atol=1e-12)
    assert np.all(np.isinf(perfect["psnr"]))
    np.testing.assert_allclose(perfect["colorfulness_pred"], perfect["colorfulness_true"])
    np.testing.assert_allclose(perfect["delta_cf"], 0, atol=1e-9)
    assert "lpips" not in perfect

    gray = evaluate_pair(L, GRAY(L), ab, lpips=LPIPS(backbone="random"))
    assert set(gray) == set(PAIR_KEYS)
    assert all(v.shape == (2,) for v in gray.values())
    assert np.all(gray["ciede2000"] > 1) and np.all(gray["psnr"] < 40)
    # a = b = 0 is the D65 white point: neutral up to the rounding of sRGB's matrix
    np.testing.assert_allclose(gray["colorfulness_pred"], 0, atol=0.01)
    # the signed gap per image; a set's ΔCF is the absolute value of its mean
    np.testing.assert_allclose(
        gray["delta_cf"], gray["colorfulness_pred"] - gray["colorfulness_true"]
    )
    assert set_value("delta_cf", gray["delta_cf"].mean()) == pytest.approx(
        abs(gray["colorfulness_pred"].mean() - gray["colorfulness_true"].mean())
    )
    assert np.all(gray["out_of_gamut"] == 0)
    assert GRAY.name == "GRAY"


def test_evaluate_pair_is_per_image_whatever_the_chunking():
    # evaluate_pair works EVAL_CHUNK images at a time; a batch spanning several chunks must give
    # every image what it gets alone (to float rounding), and SSIM still matches skimage
    L, ab = _lab_batch(n=EVAL_CHUNK + 2, size=64, seed=11)
    _, ab_other = _lab_batch(n=EVAL_CHUNK + 2, size=64, seed=12)
    lpips = LPIPS(backbone="random")
    batch = evaluate_pair(L, ab_other, ab, lpips=lpips)
    assert list(batch) == PAIR_KEYS
    for i in range(L.shape[0]):
        alone = evaluate_pair(L[i : i + 1], ab_other[i : i + 1], ab[i : i + 1], lpips=lpips)
        for k, v in alone.items():
            np.testing.assert_allclose(batch[k][i], v[0], rtol=1e-6 if k == "lpips" else 1e-13)
        true = lab2rgb(np.moveaxis(decode_lab(torch.cat([L, ab], 1))[i].numpy(), 0, -1))
        pred = lab2rgb(np.moveaxis(decode_lab(torch.cat([L, ab_other], 1))[i].numpy(), 0, -1))
        ref = structural_similarity(true, pred, channel_axis=-1, data_range=1.0)
        assert batch["ssim"][i] == pytest.approx(ref, abs=1e-12)


def test_evaluate_pair_equals_the_original_skimage_colormath_chain(photos):
    # end to end on a real photo: what the original computed (skimage lab2rgb / rgb2lab, PSNR,
    # SSIM; colormath ΔE00 per pixel, here on every pixel of a 24x24 crop) is what we compute
    from colormath.color_diff import delta_e_cie2000
    from colormath.color_objects import LabColor
    from skimage.color import rgb2lab

    from colorlib.data import find_images, load_images

    np.asscalar = lambda a: a.item()  # colormath 3.0.0 calls the removed numpy.asscalar
    img = load_images(find_images(photos / "bsds500", "test")[:1], 64).images[:, 20:44, 20:44]
    lab = encode_lab(rgb_to_lab(torch.from_numpy(img).permute(0, 3, 1, 2).double() / 255))
    L, ab = lab[:, :1], lab[:, 1:]
    g = torch.Generator().manual_seed(0)
    ab_pred = (ab * 0.6 + 0.05 * torch.randn(ab.shape, generator=g, dtype=ab.dtype)).clamp(-1, 1)
    ours = evaluate_pair(L, ab_pred, ab)

    def display(ab_):  # the original: decode, lab2rgb (clips), channel-last
        return lab2rgb(np.moveaxis(decode_lab(torch.cat([L, ab_], 1))[0].numpy(), 0, -1))

    t_rgb, p_rgb = display(ab), display(ab_pred)
    lt, lp = rgb2lab(t_rgb).reshape(-1, 3), rgb2lab(p_rgb).reshape(-1, 3)
    delta = np.mean([delta_e_cie2000(LabColor(*a), LabColor(*b)) for a, b in zip(lt, lp)])
    assert ours["ciede2000"][0] == pytest.approx(delta, abs=1e-6)  # seen: 5e-10
    assert ours["psnr"][0] == pytest.approx(peak_signal_noise_ratio(t_rgb, p_rgb, data_range=1))
    ref_ssim = structural_similarity(t_rgb, p_rgb, channel_axis=-1, data_range=1.0)
    assert ours["ssim"][0] == pytest.approx(ref_ssim, abs=1e-9)
    assert ours["colorfulness_true"][0] == pytest.approx(colorfulness(t_rgb), abs=1e-9)


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_float32_device_path_stays_within_bounds_of_the_reference(photos):
    """The accelerator path (float32, whole batch) against the float64 CPU reference on 32
    BSDS500 test photos at 256² and a blurred, desaturated prediction. Measured: PSNR 3e-6 dB,
    SSIM 8e-7, ΔE00 1.3e-6, colourfulness 8e-6 at most; the bounds leave 30-100x headroom."""
    from colorlib.data import ColorizationDataset, find_images, load_images

    images = load_images(find_images(photos / "bsds500", "test")[:32], 256)
    L, ab = next(ColorizationDataset(images).batches(32))
    pred = torch.nn.functional.avg_pool2d(ab, 9, 1, 4) * 0.6 + 0.02
    reference = evaluate_pair(L, pred, ab)
    device_path = evaluate_pair(L, pred, ab, dtype=torch.float32)
    bounds = {
        "psnr": 1e-4,
        "ssim": 1e-5,
        "ciede2000": 1e-4,
        "colorfulness_pred": 1e-3,
        "delta_cf": 2e-3,
        "colorfulness_true": 1e-3,
        "out_of_gamut": 1e-3,
    }
    assert set(bounds) == set(reference) == set(device_path)
    for metric, bound in bounds.items():
        np.testing.assert_allclose(device_path[metric], reference[metric], rtol=0, atol=bound)
