import pytest
import torch
from torch import nn

from colorlib.networks import PatchDiscriminator, UnetGenerator, count_parameters


def test_parameter_counts_match_the_study():
    assert count_parameters(UnetGenerator(image_size=256, ngf=64)) == 54_409_858
    assert count_parameters(PatchDiscriminator()) == 2_762_049


def test_output_shapes_at_256():
    g, d = UnetGenerator(), PatchDiscriminator()
    L = torch.randn(2, 1, 256, 256)
    with torch.no_grad():
        ab = g(L)
        logits = d(L, ab)
    assert ab.shape == (2, 2, 256, 256)
    assert logits.shape == (2, 1, 16, 16)


def test_the_generator_ends_in_tanh():
    """The output is a tanh (normalised ab in (-1, 1)): a huge input saturates it to ±1 and
    never beyond; without the tanh the same input gives values far outside."""
    torch.manual_seed(0)
    g = UnetGenerator(image_size=32, ngf=8).eval()
    assert isinstance(list(g.modules())[-1], nn.Tanh)
    with torch.no_grad():
        ab = g(torch.randn(2, 1, 32, 32) * 1e4)
    assert 0.99 < ab.abs().max() <= 1


@pytest.mark.parametrize("size, dropout_blocks", [(32, 0), (64, 1), (128, 2), (256, 3)])
def test_smaller_images_drop_levels(size, dropout_blocks):
    g = UnetGenerator(image_size=size, ngf=8)
    downs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
    assert len(downs) == size.bit_length() - 1  # log2(size) stride-2 levels
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == dropout_blocks
    with torch.no_grad():
        assert g(torch.randn(2, 1, size, size)).shape == (2, 2, size, size)
        assert PatchDiscriminator(ndf=8)(
            torch.randn(2, 1, size, size), torch.randn(2, 2, size, size)
        ).shape == (2, 1, size // 16, size // 16)


@pytest.mark.parametrize("size", [0, 16, 48, 100, -64])
def test_bad_image_size_is_rejected(size):
    with pytest.raises(ValueError, match="power of two >= 32"):
        UnetGenerator(image_size=size)


def test_wrong_input_size_names_the_fix():
    with pytest.raises(ValueError, match="image_size=64"):
        UnetGenerator(image_size=32, ngf=4)(torch.zeros(1, 1, 64, 64))


def test_pix2pix_normal_init():
    torch.manual_seed(0)
    g = UnetGenerator(image_size=256, ngf=64)
    convs = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.Conv2d)])
    assert abs(convs.mean().item()) < 1e-3
    assert convs.std().item() == pytest.approx(0.02, rel=0.01)
    norms = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert norms.mean().item() == pytest.approx(1.0, abs=0.01)
    biases = [
        m.bias for m in g.modules() if isinstance(m, nn.ConvTranspose2d) and m.bias is not None
    ]
    assert len(biases) == 1 and biases[0].abs().sum() == 0  # only the outermost up-conv has one
