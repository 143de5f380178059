import math

import pytest
import torch
from torch import nn

from colorlib.losses import (
    VGG16PerceptualLoss,
    discriminator_loss,
    generator_adversarial_loss,
    l1_ab_loss,
)
from colorlib.networks import PatchDiscriminator


def test_l1_value_and_gradcheck():
    a = torch.zeros(1, 2, 2, 2, dtype=torch.float64)
    b = torch.full_like(a, 0.5)
    assert l1_ab_loss(a, b).item() == 0.5
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: l1_ab_loss(p, y), (x,))


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_perceptual_loss_gradcheck_random_backbone():
    loss = VGG16PerceptualLoss(backbone="random").double()
    assert loss.weights_source.kind == "random"
    assert "RANDOM" in loss.weights_source.describe()
    torch.manual_seed(0)
    L = torch.rand(1, 1, 8, 8, dtype=torch.float64) * 1.2 - 0.6
    ab_true = torch.randn(1, 2, 8, 8, dtype=torch.float64) * 0.1
    ab = (torch.randn(1, 2, 8, 8, dtype=torch.float64) * 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: loss(L, p, ab_true), (ab,), eps=1e-6, atol=1e-4)


@pytest.mark.slow  # a reference check: the full suite, not test-fast
@pytest.mark.weights
def test_perceptual_loss_imagenet_properties():
    loss = VGG16PerceptualLoss()
    assert loss.weights_source.imagenet_verified
    assert [type(b[-1]) for b in loss.slices] == [nn.ReLU] * 3  # relu1_2, relu2_2, relu3_3
    assert [len(b) for b in loss.slices] == [4, 5, 7]  # features[:4], [4:9], [9:16]
    assert not any(p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.training and not any(m.training for m in loss.modules())
    torch.manual_seed(0)
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    ab = torch.randn(2, 2, 32, 32) * 0.2
    assert loss(L, ab, ab).item() == 0.0
    other = (ab + 0.2 * torch.randn_like(ab)).requires_grad_()
    value = loss(L, other, ab)
    assert value.item() > 0
    value.backward()
    assert other.grad is not None and torch.isfinite(other.grad).all()


class _ConstantD(nn.Module):
    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = logit

    def forward(self, L, ab):
        return torch.full((L.shape[0], 1, 2, 2), self.logit) + 0 * ab.sum()


def test_adversarial_losses_follow_bce_with_logits():
    L, ab = torch.zeros(2, 1, 4, 4), torch.zeros(2, 2, 4, 4)
    assert discriminator_loss(_ConstantD(0.0), L, ab, ab).item() == pytest.approx(math.log(2))
    assert generator_adversarial_loss(_ConstantD(0.0), L, ab).item() == pytest.approx(math.log(2))
    # a confident, correct D: real -> +10, fake -> -10 would need two outputs; check signs instead
    assert generator_adversarial_loss(_ConstantD(10.0), L, ab).item() < 1e-4
    assert generator_adversarial_loss(_ConstantD(-10.0), L, ab).item() > 9.9


def test_discriminator_loss_does_not_reach_the_generator():
    d = PatchDiscriminator(ndf=8)
    L = torch.randn(2, 1, 32, 32)
    fake = torch.randn(2, 2, 32, 32, requires_grad=True)
    discriminator_loss(d, L, torch.randn(2, 2, 32, 32), fake).backward()
    assert fake.grad is None
    generator_adversarial_loss(d, L, fake).backward()
    assert fake.grad is not None


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_perceptual_gradient_reaches_out_of_gamut_predictions():
    """A prediction far outside the sRGB gamut still gets a gradient (the loss does not clip),
    where the clipped conversion would give none."""
    from colorlib.color import join_lab, lab_to_rgb

    loss = VGG16PerceptualLoss(backbone="random").double()
    L = torch.zeros(1, 1, 8, 8, dtype=torch.float64)  # L = 50
    ab_true = torch.zeros(1, 2, 8, 8, dtype=torch.float64)
    ab = torch.full((1, 2, 8, 8), 0.9, dtype=torch.float64).requires_grad_()  # a, b = 115
    assert (lab_to_rgb(join_lab(L, ab.detach()), clip=False) > 1).any()  # out of gamut
    loss(L, ab, ab_true).backward()
    assert (ab.grad.abs() > 0).all()
    clipped = ab.detach().clone().requires_grad_()
    rgb = lab_to_rgb(join_lab(L, clipped))
    rgb[rgb >= 1].sum().backward()  # the clipped channels: no gradient back to ab
    assert clipped.grad.abs().max() == 0


def test_unclipped_lab_to_rgb_equals_clipped_inside_the_gamut():
    from colorlib.color import lab_to_rgb, rgb_to_lab

    rgb = torch.rand(2, 3, 5, 5, dtype=torch.float64) * 0.9 + 0.05
    lab = rgb_to_lab(rgb)
    torch.testing.assert_close(lab_to_rgb(lab, clip=False), lab_to_rgb(lab))
    torch.testing.assert_close(lab_to_rgb(lab, clip=False), rgb)


def test_the_loss_terms_are_the_configs_switches():
    from dataclasses import fields

    from colorlib.config import ExperimentConfig, make_config
    from colorlib.losses import LOSS_TERMS

    switched = [f.metadata["loss_switch"] for f in fields(ExperimentConfig)
                if "loss_switch" in f.metadata]
    assert switched == list(LOSS_TERMS)
    assert make_config("C").loss_weights() == {"l1": 100.0, "perceptual": 10.0, "adv": 1.0}
    assert make_config("CLS").loss_weights() == {"classification": 1.0}


def test_the_generator_loss_is_the_weighted_sum_of_the_active_terms():
    from colorlib.config import make_config
    from colorlib.losses import Step, generator_loss


    torch.manual_seed(0)
    L, ab, fake = (torch.rand(2, c, 32, 32) * 2 - 1 for c in (1, 2, 2))
    D = PatchDiscriminator(ndf=8)
    cfg = make_config("B", "smoke", gan_warmup_epochs=1)
    step = Step(L, ab, fake, D=D)
    warm, warm_terms = generator_loss(cfg, 0, step)  # the GAN has not started
    assert list(warm_terms) == ["l1"] and warm == 100.0 * warm_terms["l1"]
    total, terms = generator_loss(cfg, 1, step)
    assert list(terms) == ["l1", "adv"]
    torch.testing.assert_close(total, 100.0 * terms["l1"] + terms["adv"])


def _ddcolor_colorfulness(rgb) -> float:
    """DDColor's per-image colourfulness (``ColorfulnessLoss``), retyped in NumPy from its
    definition: absolute opponent channels, unbiased standard deviations, RGB in [0, 1]."""
    import numpy as np

    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = np.abs(r - g), np.abs(0.5 * (r + g) - b)
    std = np.sqrt(rg.std(ddof=1) ** 2 + yb.std(ddof=1) ** 2)
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return std + 0.3 * mean


def test_colorfulness_loss_is_ddcolors_on_real_photos(sample):
    """Issue 30: the colourfulness term is DDColor's, 1 − C averaged over the batch, on the
    decoded sRGB of real photos (the embedded sample's test tiles)."""
    import numpy as np
    from PIL import Image

    from colorlib.color import encode_lab, join_lab, lab_to_rgb, rgb_to_lab
    from colorlib.losses import colorfulness_loss

    files = sorted((sample / "test").iterdir())[:4]
    rgb = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]) / 255.0
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(0, 3, 1, 2))
    L, ab = encode_lab(lab).split([1, 2], dim=1)
    shown = lab_to_rgb(join_lab(L, ab)).permute(0, 2, 3, 1).numpy()  # the round trip
    expected = np.mean([1 - _ddcolor_colorfulness(image) for image in shown])
    assert colorfulness_loss(L, ab).item() == pytest.approx(expected, rel=1e-6)
    # more colour, less loss; a gray prediction loses most, with a finite gradient
    assert colorfulness_loss(L, 1.5 * ab) < colorfulness_loss(L, ab) < colorfulness_loss(L, 0 * ab)
    gray = torch.zeros_like(ab, requires_grad=True)
    colorfulness_loss(L, gray).backward()
    assert torch.isfinite(gray.grad).all()


def test_colorfulness_loss_gradcheck():
    from colorlib.losses import colorfulness_loss

    torch.manual_seed(0)
    L = torch.rand(2, 1, 6, 6, dtype=torch.float64) * 0.8 - 0.4
    ab = (torch.randn(2, 2, 6, 6, dtype=torch.float64) * 0.1).requires_grad_()
    check = torch.autograd.gradcheck
    assert check(lambda p: colorfulness_loss(L, p), (ab,), eps=1e-6, atol=1e-5)
