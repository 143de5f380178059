import dataclasses
import math
import re

import pytest

from colorlib.config import (
    EXTENDED,
    ORIGINAL,
    PRESETS,
    PROFILES,
    ExperimentConfig,
    make_config,
    parse_overrides,
    select_models,
)
from colorlib.errors import ConfigError

# docs/study.md: configurations: (GAN, lambda_L1 or None, lambda_perc or None)
STUDY_TABLE = {
    "A": (False, 100, None),
    "B": (True, 100, None),
    "C": (True, 100, 10),
    "D": (False, None, 10),
    "E": (False, 100, 10),
    "F": (True, None, 10),
    "C_L1_LOW": (True, 50, 10),
    "C_L1_HIGH": (True, 200, 10),
    "C_PERCEPTUAL_LOW": (True, 100, 5),
    "C_PERCEPTUAL_HIGH": (True, 100, 20),
}


@pytest.mark.parametrize("model_id", sorted(STUDY_TABLE))
def test_presets_match_the_study(model_id):
    gan, l1, perc = STUDY_TABLE[model_id]
    cfg = make_config(model_id)
    assert cfg.use_gan is gan
    assert cfg.use_l1 is (l1 is not None) and (l1 is None or cfg.lambda_l1 == l1)
    assert cfg.use_perceptual is (perc is not None)
    assert perc is None or cfg.lambda_perceptual == perc
    assert (cfg.generator, cfg.head, cfg.use_classification) == ("unet", "regression", False)
    assert set(ORIGINAL) == set(STUDY_TABLE) and set(PRESETS) == set(STUDY_TABLE) | set(EXTENDED)


def test_the_extended_group():
    """The issue's four: A's and B's losses on the VGG16 encoder; Zhang's classification alone,
    on the U-Net and on the VGG16 encoder. ``--models`` resolves groups and ids."""
    expect = {
        "A_VGG": ("vgg16_unet", "regression", False, True, False),
        "B_VGG": ("vgg16_unet", "regression", False, True, True),
        "CLS": ("unet", "classification", True, False, False),
        "CLS_VGG": ("vgg16_unet", "classification", True, False, False),
    }
    for model, want in expect.items():
        c = make_config(model)
        assert (c.generator, c.head, c.use_classification, c.use_l1, c.use_gan) == want
    assert select_models("original") == (*ORIGINAL, "GRAY")
    assert select_models("extended")[-8:] == (
        "A_VGG", "B_VGG", "CLS", "CLS_VGG", "A_VGG_CF", "B_VGG_CF", "A_VGG_CF_VIVID", "GRAY"
    )  # fmt: skip
    vivid = make_config("A_VGG_CF_VIVID")
    assert vivid.use_colorfulness and vivid.min_colorfulness == 15.0  # BigColor's threshold
    assert make_config("B_VGG_CF").use_gan and make_config("A_VGG_CF").min_colorfulness == 0
    assert select_models("GRAY,CLS,A") == ("A", "CLS", "GRAY")  # study order
    with pytest.raises(ConfigError, match="unknown model.*'NOPE'.*group"):
        select_models("A,NOPE")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(generator="resnet"), "generator must be one of"),
        (dict(head="mixture"), "head must be one of"),
        (dict(use_classification=True), "needs head='classification'"),
        (dict(head="classification", temperature=0.0), r"'temperature' must be in \(0, 100\]"),
        (dict(rebalance_lambda=1.5), r"'rebalance_lambda' must be in \[0, 1\]"),
        (dict(encoder_lr_scale=-0.1), r"'encoder_lr_scale' must be in \[0, 10\]"),
        (dict(gan_warmup_epochs=2), "needs use_gan"),
        (dict(use_gan=True, gan_warmup_epochs=50), r"in \[0, epochs\)"),
    ],
)
def test_network_fields_are_checked(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("A", **overrides)


def test_full_profile_is_the_study_schedule():
    cfg = make_config("A", "full")
    assert (cfg.image_size, cfg.ngf, cfg.batch_size, cfg.epochs, cfg.decay_start) == (
        256,
        64,
        64,
        50,
        25,
    )
    assert (cfg.lr, cfg.beta1, cfg.beta2, cfg.seed) == (2e-4, 0.5, 0.999, 42)


def test_profiles_change_scale_only():
    loss_keys = {"use_l1", "lambda_l1", "use_perceptual", "lambda_perceptual", "use_gan"}
    for profile in PROFILES.values():
        assert not loss_keys & set(profile)


def test_frozen_and_strict():
    cfg = make_config("C", "smoke", epochs=3)
    assert cfg.epochs == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 4
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['epochz'\]"):
        make_config("C", epochz=3)
    with pytest.raises(ValueError, match=r"unknown config key"):
        ExperimentConfig.from_dict({"model_id": "A", "lamda_l1": 1.0})
    with pytest.raises(TypeError, match="'epochs' must be int"):
        make_config("C", epochs="3")
    with pytest.raises(TypeError, match="'use_gan' must be bool"):
        make_config("C", use_gan=1)
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['G'\]"):
        make_config("G")
    with pytest.raises(ValueError, match="unknown profile"):
        make_config("A", "huge")
    with pytest.raises(ValueError, match="at least one of"):
        make_config("A", use_l1=False)


def test_round_trip_through_dict_and_overrides():
    cfg = make_config("E", "cpu", train_splits=("train", "val"))
    again = ExperimentConfig.from_dict(cfg.to_dict())
    assert again == cfg
    as_json = cfg.to_dict() | {"train_splits": ["train", "val"]}
    assert ExperimentConfig.from_dict(as_json) == cfg
    o = parse_overrides(["epochs=3", "use_gan=false", "lr=1e-3", "train_splits=train,val"])
    assert o == {"epochs": 3, "use_gan": False, "lr": 1e-3, "train_splits": ("train", "val")}
    with pytest.raises(TypeError, match="boolean"):
        parse_overrides(["use_gan=maybe"])
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["epochs"])
    with pytest.raises(ValueError, match="unknown config key"):
        parse_overrides(["nope=1"])


def _beyond(valid):
    """Values just outside ``valid`` (each end), NaN and ±inf."""
    step = 1 if valid.high >= 1 and valid.high == int(valid.high) else valid.high * 1e-3
    out = [float("nan"), float("inf"), float("-inf"), valid.low - step, valid.high + step]
    return out + [valid.low] * valid.low_open + [valid.high] * valid.high_open


def test_every_numeric_field_has_a_range_and_out_of_range_values_are_refused():
    from colorlib.config import RANGES, Range, _hints

    numeric = {k for k, hint in _hints().items() if hint in (int, float)}
    assert set(RANGES) == numeric  # a new numeric field needs its range
    base = make_config("B", "smoke")
    for name, valid in RANGES.items():
        assert getattr(base, name) in valid
        for value in _beyond(valid):
            if _hints()[name] is int and not math.isfinite(value):
                value = 10**30 if value > 0 else -(10**30)  # ints cannot be NaN: huge instead
            elif _hints()[name] is int:
                value = int(value)
            message = rf"config key '{name}' must be in {re.escape(str(valid))}; got"
            with pytest.raises(ConfigError, match=message):
                base.replace(**{name: value})
    assert str(Range(0, 1, low_open=True)) == "(0, 1]"


@pytest.mark.parametrize(
    "setting",
    ["lr=1e300", "max_train_images=-1", "val_holdout=-5", "translate=5", "rotation_deg=nan"],
)
def test_the_issues_numbers_are_one_line_errors(setting):
    from colorlib.config import parse_overrides

    with pytest.raises(ConfigError, match=f"config key '{setting.split('=')[0]}' must be in"):
        make_config("A", "smoke", **parse_overrides([setting]))


def test_a_config_file_is_the_whole_config(tmp_path):
    import json

    from colorlib.config import load_config

    cfg = make_config("C", "smoke", lambda_l1=30.0, train_splits=("train", "val"))
    path = tmp_path / "C.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert load_config(path) == cfg
    path.write_text('"hello"')
    with pytest.raises(TypeError, match=r"C\.json: a config is a mapping .* got str"):
        load_config(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"cannot read config file .*C\.json"):
        load_config(path)
    path.write_text('{"epochs": 3, "bogus": 1}')
    with pytest.raises(ValueError, match=r"C\.json: unknown config key\(s\) \['bogus'\]"):
        load_config(path)
