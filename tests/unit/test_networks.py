import pytest
import torch
from torch import nn

from colorlib.config import make_config
from colorlib.networks import (
    VGG16_STAGES,
    PatchDiscriminator,
    UnetGenerator,
    VGG16UNet,
    count_parameters,
    define_G,
)
from colorlib.quantize import annealed_mean


def VGG(model: str):
    """A configuration with the ImageNet VGG16 encoder: its weights take a second or two to
    load, so it runs in the full suite, not in test-fast."""
    return pytest.param(model, marks=pytest.mark.slow)


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


# --- generators as data (define_G) -----------------------------------------------------------


@pytest.mark.parametrize("model_id", ["A", VGG("A_VGG"), "CLS", VGG("CLS_VGG")])
def test_define_G_builds_each_generator_and_head(model_id):
    cfg = make_config(model_id, "smoke")
    G = define_G(cfg).eval()
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    ab = G(L)
    assert ab.shape == (2, 2, 32, 32) and ab.abs().max() <= 1.0  # normalised ab either way
    body = G.body[0] if cfg.head == "classification" else G  # body, ReLU, 1x1 conv to logits
    assert type(body) is {"unet": UnetGenerator, "vgg16_unet": VGG16UNet}[cfg.generator]
    if cfg.head == "classification":
        decoded, logits = G(L, with_logits=True)
        assert logits.shape == (2, 261, 32, 32)
        torch.testing.assert_close(decoded, annealed_mean(logits, G.centres, 0.38) / 128)
    assert G.image_size == 32


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_the_vgg16_encoder_holds_imagenet_features_and_sees_gray_rgb():
    from colorlib.color import join_lab, lab_to_rgb
    from colorlib.pretrained import load_features

    G = VGG16UNet(32, 8)
    features, source = load_features("vgg16")
    assert source.describe() == G.weights_source.describe()
    for (a, b), stage in zip(VGG16_STAGES, G.encoder):
        for mine, theirs in zip(stage.state_dict().values(), features[a:b].state_dict().values()):
            assert torch.equal(mine, theirs)
    assert all(p.requires_grad for p in G.encoder.parameters())  # the trainer decides
    # the encoder's input: the gray sRGB of L, ImageNet-normalised (hooked at the first conv)
    seen = []
    G.encoder[0][0].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    L = torch.rand(1, 1, 32, 32) * 2 - 1
    G(L)
    gray = lab_to_rgb(join_lab(L, torch.zeros(1, 2, 32, 32)), clip=False)
    torch.testing.assert_close(seen[0], (gray - G.mean) / G.std)
    torch.testing.assert_close(gray[:, 0], gray[:, 2], atol=1e-3, rtol=0)  # neutral


@pytest.mark.slow  # a reference check: the full suite, not test-fast
def test_the_encoder_learning_rate_scale(tmp_path):
    from colorlib.training import Trainer

    kw = dict(models_dir=str(tmp_path / "m"), results_dir=str(tmp_path / "r"), device="cpu")
    assert make_config("A_VGG").encoder_lr_scale == 0.0  # frozen by default
    for scale in (0.1, 0.0):
        t = Trainer(make_config("A_VGG", "smoke", encoder_lr_scale=scale, **kw), progress=False)
        encoder = {id(p) for p in t.G.pretrained_parameters()}
        groups = t.opt_G.param_groups
        if scale:
            assert [g["lr"] for g in groups] == [2e-4, 2e-5]
            assert {id(p) for p in groups[1]["params"]} == encoder
        else:  # frozen: no gradient, not in Adam
            assert len(groups) == 1 and not encoder & {id(p) for p in groups[0]["params"]}
            assert not any(p.requires_grad for p in t.G.pretrained_parameters())


def test_the_generator_and_baseline_registries_are_the_configs_choices():
    from colorlib import config, networks

    assert tuple(networks.GENERATORS) == config.GENERATORS
    assert tuple(networks.BASELINES) == config.BASELINES
    with pytest.raises(ValueError, match="unknown baseline 'MEAN'; choose from"):
        networks.baseline("MEAN")


@pytest.mark.parametrize("model", ["A", "CLS", VGG("A_VGG"), VGG("CLS_VGG")])
def test_every_generator_offers_the_declared_interface(model):
    from colorlib.networks import Generator

    G = define_G(make_config(model, "smoke", backbone="random"), pretrained=model.endswith("VGG"))
    assert isinstance(G, Generator) and G.image_size == 32
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        ab, logits = G(L, with_logits=True)
        torch.testing.assert_close(G(L), ab)
    assert ab.shape == (2, 2, 32, 32)
    assert (logits is None) is model.startswith("A")
    pretrained = G.pretrained_parameters()
    assert bool(pretrained) is model.endswith("VGG")
    assert (G.weights_source is not None) is model.endswith("VGG")
