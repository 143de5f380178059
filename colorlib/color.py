"""CIE Lab colour handling: the study's normalisation and differentiable sRGB <-> Lab.

Every Lab scaling constant of the project is defined here, once:

==========  ==============  ======================
channel     range           normalised
==========  ==============  ======================
L           [0, 100]        ``L / 50 - 1``
a, b        about ±128      ``a / 128``, ``b / 128``
==========  ==============  ======================

The conversions follow scikit-image's ``rgb2lab`` / ``lab2rgb`` exactly (sRGB, D65
illuminant, 2° observer, the same piecewise thresholds), but work on batched torch tensors
``(N, 3, H, W)`` and are differentiable, so the perceptual loss can back-propagate through
Lab -> RGB. ``tests/unit/test_color.py`` checks them against scikit-image.
"""

from __future__ import annotations

import functools

import torch

# --- the study's normalisation (docs/study.md) ------------------------------------------
L_SCALE = 50.0  # L in [0, 100]  ->  L / 50 - 1 in [-1, 1]
L_SHIFT = 1.0
AB_SCALE = 128.0  # a, b in about [-128, 128]  ->  a / 128, b / 128

# --- sRGB / CIE constants, as in skimage.color.colorconv ------------------------------------
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_D65_2DEG = (0.95047, 1.0, 1.08883)  # reference white, D65 illuminant, 2° observer
_SRGB_LINEAR_THRESHOLD = 0.04045  # gamma expansion switch (encoded side)
_SRGB_GAMMA_THRESHOLD = 0.0031308  # gamma compression switch (linear side)
_LAB_F_THRESHOLD = 0.008856  # (6/29)^3 as rounded by scikit-image
_LAB_F_INV_THRESHOLD = 0.2068966  # 6/29 as rounded by scikit-image
_LAB_KAPPA = 7.787
# a pixel counts as out of gamut when clipping moves a channel by more than half an 8-bit level
GAMUT_TOLERANCE = 0.5 / 255


def encode_lab(lab: torch.Tensor) -> torch.Tensor:
    """Normalise Lab ``(N, 3, H, W)`` (L in [0, 100], a/b about ±128) to the network range.

    Returns ``(N, 3, H, W)`` with L in [-1, 1] and a, b divided by 128.
    Channel 0 is the generator input, channels 1:3 its target.
    """
    _check_channels(lab, 3, "lab")
    L, ab = lab[:, :1], lab[:, 1:]
    return torch.cat([L / L_SCALE - L_SHIFT, ab / AB_SCALE], dim=1)


def decode_lab(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`encode_lab`: network range ``(N, 3, H, W)`` -> Lab units."""
    _check_channels(x, 3, "x")
    L, ab = x[:, :1], x[:, 1:]
    return torch.cat([(L + L_SHIFT) * L_SCALE, ab * AB_SCALE], dim=1)


def join_lab(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Concatenate normalised ``L (N, 1, H, W)`` and ``ab (N, 2, H, W)`` and decode to Lab units."""
    _check_channels(L, 1, "L")
    _check_channels(ab, 2, "ab")
    return decode_lab(torch.cat([L, ab], dim=1))


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(N, 3, H, W)`` in [0, 1] -> CIE Lab (D65, 2°), L in [0, 100].

    Matches ``skimage.color.rgb2lab`` (to float rounding); differentiable everywhere.
    A ``uint8`` input (0-255) is read as ``rgb.float() / 255``: its gamma expansion is looked up
    in a 256-entry float32 table computed by the same formula (the same numbers, a gather
    instead of a power law per pixel), and the result is float32.
    """
    _check_channels(rgb, 3, "rgb")
    if rgb.dtype == torch.uint8:
        table = _srgb_to_linear_table(rgb.device)  # index_select: ~3x faster than table[rgb]
        linear = table.index_select(0, rgb.reshape(-1).int()).view(rgb.shape)
    else:
        linear = _srgb_to_linear(rgb)
    xyz = _mix(_matrix(_XYZ_FROM_RGB, linear), linear)
    xyz = xyz / _white(linear)
    f = torch.where(
        xyz > _LAB_F_THRESHOLD,
        xyz.clamp(min=_LAB_F_THRESHOLD) ** (1.0 / 3.0),
        _LAB_KAPPA * xyz + 16.0 / 116.0,
    )
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def _srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB gamma expansion of values in [0, 1] (scikit-image's piecewise formula)."""
    return torch.where(
        rgb > _SRGB_LINEAR_THRESHOLD,
        ((rgb.clamp(min=_SRGB_LINEAR_THRESHOLD) + 0.055) / 1.055) ** 2.4,
        rgb / 12.92,
    )


@functools.cache
def _srgb_to_linear_table(device: torch.device) -> torch.Tensor:
    """Gamma expansion of the 256 8-bit levels ``k / 255``, float32, on ``device``."""
    return _srgb_to_linear(torch.arange(256, dtype=torch.float32, device=device) / 255.0)


def lab_to_rgb(
    lab: torch.Tensor, *, return_out_of_gamut: bool = False, clip: bool = True
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """CIE Lab ``(N, 3, H, W)`` (D65, 2°) -> sRGB in [0, 1], clipped like ``skimage.color.lab2rgb``.

    Parameters
    ----------
    lab : Tensor (N, 3, H, W)
        L in [0, 100], a and b in Lab units.
    clip : bool
        Clip to the sRGB gamut (the default: displayable images, metrics). ``False`` returns
        the unclipped values: outside the gamut they continue the same formulas (a negative
        Z is not clipped either), so every channel keeps its gradient (the perceptual loss).
    return_out_of_gamut : bool
        Also return, per image, the fraction of pixels that had to be clipped: any sRGB
        channel outside [0, 1] by more than ``GAMUT_TOLERANCE`` (half an 8-bit level) before
        clipping, or a negative Z (which scikit-image clips too).

    Returns
    -------
    rgb : Tensor (N, 3, H, W), in [0, 1] when ``clip``
    fraction : Tensor (N,), only when ``return_out_of_gamut``
    """
    _check_channels(lab, 3, "lab")
    L, a, b = lab[:, 0:1], lab[:, 1:2], lab[:, 2:3]
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = fy - b / 200.0
    negative_z = fz < 0
    f = torch.cat([fx, fy, fz.clamp(min=0.0) if clip else fz], dim=1)
    xyz = torch.where(f > _LAB_F_INV_THRESHOLD, f**3, (f - 16.0 / 116.0) / _LAB_KAPPA) * _white(lab)
    linear = _mix(_matrix(_RGB_FROM_XYZ, lab), xyz)
    rgb = torch.where(
        linear > _SRGB_GAMMA_THRESHOLD,
        1.055 * linear.clamp(min=_SRGB_GAMMA_THRESHOLD) ** (1.0 / 2.4) - 0.055,
        12.92 * linear,
    )
    clipped = rgb.clamp(0.0, 1.0) if clip else rgb
    if not return_out_of_gamut:
        return clipped
    outside = ((rgb < -GAMUT_TOLERANCE) | (rgb > 1 + GAMUT_TOLERANCE)).any(dim=1, keepdim=True)
    outside = outside | negative_z
    return clipped, outside.flatten(1).float().mean(dim=1)


def _invert3(m: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
    t = torch.linalg.inv(torch.tensor(m, dtype=torch.float64))
    return tuple(tuple(row) for row in t.tolist())


_RGB_FROM_XYZ = _invert3(_XYZ_FROM_RGB)


def _matrix(m: tuple[tuple[float, ...], ...], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(m, dtype=like.dtype, device=like.device)


def _white(like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(_D65_2DEG, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)


def _mix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 colour matrix to the channel axis of ``(N, 3, H, W)``."""
    return torch.einsum("ij,njhw->nihw", m, x)


def _check_channels(x: torch.Tensor, channels: int, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != channels:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"{name} must be a tensor of shape (N, {channels}, H, W); got {shape}")
