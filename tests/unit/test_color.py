import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from colorlib.color import decode_lab, encode_lab, join_lab, lab_to_rgb, rgb_to_lab


def _edge_and_random_rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    corners = np.array([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], float)
    grays = np.linspace(0, 1, 101)[:, None].repeat(3, 1)
    near_threshold = np.array([[0.04045, 0.04046, 0.04044], [1e-6, 0.5, 1 - 1e-6]])
    random = rng.random((4000, 3))
    return np.concatenate([corners, grays, near_threshold, random])


def _as_image(x: np.ndarray) -> torch.Tensor:  # (P, 3) -> (1, 3, 1, P)
    return torch.from_numpy(x.T[None, :, None, :].copy())


def _from_image(t: torch.Tensor) -> np.ndarray:
    return t[0, :, 0, :].T.numpy()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rgb_to_lab_matches_skimage(dtype):
    rgb = _edge_and_random_rgb()
    ours = _from_image(rgb_to_lab(_as_image(rgb).to(dtype)).double())
    np.testing.assert_allclose(ours, rgb2lab(rgb[None])[0], atol=1e-3, rtol=0)


def test_rgb_to_lab_of_uint8_is_the_float_formula_and_skimage():
    # uint8 input goes through a 256-entry gamma table; every level gives the same float32 Lab
    # as the formula on level / 255 (shape (2, 3, 16, 16): the vectorised path, no scalar tail)
    g = torch.Generator().manual_seed(3)
    u8 = torch.randint(0, 256, (2, 3, 16, 16), generator=g, dtype=torch.uint8)
    u8.view(-1)[:768] = torch.arange(768) % 256  # every level in every channel
    ours = rgb_to_lab(u8)
    assert ours.dtype == torch.float32
    assert torch.equal(ours, rgb_to_lab(u8.float() / 255.0))
    # odd sizes, non-contiguous views: equal up to float32 rounding, and to skimage
    view = u8[:, :, 1:14, 2:15].permute(0, 1, 3, 2)
    torch.testing.assert_close(rgb_to_lab(view), rgb_to_lab(view.float() / 255.0))
    expected = rgb2lab(view.permute(0, 2, 3, 1).numpy())
    np.testing.assert_allclose(rgb_to_lab(view).permute(0, 2, 3, 1), expected, atol=1e-3, rtol=0)


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    rng = np.random.default_rng(1)
    lab = np.stack(
        [rng.uniform(0, 100, 5000), rng.uniform(-128, 127, 5000), rng.uniform(-128, 127, 5000)],
        axis=1,
    )
    lab = np.concatenate([lab, rgb2lab(_edge_and_random_rgb()[None])[0]])
    with pytest.warns(UserWarning):  # skimage warns about the negative-Z pixels it clips
        expected = lab2rgb(lab[None])[0]
    ours = _from_image(lab_to_rgb(_as_image(lab)))
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)


def test_out_of_gamut_fraction():
    inside = rgb_to_lab(_as_image(_edge_and_random_rgb()[8:]))
    _, frac = lab_to_rgb(inside, return_out_of_gamut=True)
    assert frac.item() == 0.0
    outside = torch.tensor([50.0, 120.0, -120.0], dtype=torch.float64).view(1, 3, 1, 1)
    rgb, frac = lab_to_rgb(outside.expand(2, 3, 4, 4), return_out_of_gamut=True)
    assert frac.tolist() == [1.0, 1.0]
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_encode_decode_round_trip_and_constants():
    lab = torch.tensor([[0.0, -128.0, 128.0], [100.0, 0.0, 64.0]]).T.reshape(1, 3, 1, 2)
    enc = encode_lab(lab)
    assert enc[0, :, 0, 0].tolist() == [-1.0, -1.0, 1.0]
    assert enc[0, :, 0, 1].tolist() == [1.0, 0.0, 0.5]
    torch.testing.assert_close(decode_lab(enc), lab)
    torch.testing.assert_close(join_lab(enc[:, :1], enc[:, 1:]), lab)


def test_round_trip_rgb_lab_rgb():
    rgb = _as_image(_edge_and_random_rgb())
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-6, rtol=0)


def test_conversions_are_differentiable():
    rgb = torch.rand(1, 3, 3, 3, dtype=torch.float64).mul(0.9).add(0.05).requires_grad_()
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = rgb_to_lab(rgb.detach()).requires_grad_()
    assert torch.autograd.gradcheck(lab_to_rgb, (lab,))
    # no NaN gradients at black, white or out-of-gamut points
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]).T.reshape(1, 3, 1, 2).requires_grad_()
    rgb_to_lab(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    y = torch.tensor([0.0, 127.0, -127.0]).view(1, 3, 1, 1).requires_grad_()
    lab_to_rgb(y).sum().backward()
    assert torch.isfinite(y.grad).all()


@pytest.mark.parametrize("fn", [rgb_to_lab, lab_to_rgb, encode_lab, decode_lab])
def test_wrong_shape_is_rejected(fn):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        fn(torch.zeros(3, 4, 4))
