"""Experiment configuration: one frozen, typed dataclass, the study's presets and scale profiles.

A run is ``preset + profile + overrides``::

    cfg = make_config("C", profile="cpu", data_dir="../shared/data/bsds500", epochs=3)

Presets (``A``–``F`` and the four ablations of C) set only the losses, exactly as the study's
table; the ``extended`` group (:data:`EXTENDED`) adds the generator and the head (a VGG16
encoder, Zhang et al.'s classification); profiles (``full``, ``cpu``, ``smoke``) set only the
scale. Neither changes the code path.
Unknown keys and wrong types raise, as nanoGPT's configurator does.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass, fields
from typing import Any

from colorlib.errors import ConfigError, ConfigTypeError

# the training seed when none is given; also the seed of the validation split (SPLIT_SEED) and
# of the study's bootstrap draws, so that one number reproduces a whole study
DEFAULT_SEED = 42
# photos held out for validation when a dataset has no val/ folder of its own (the original:
# 250 of the Kaggle layout's 5,000); a config's val_holdout > 0 replaces it
N_VAL = 250
# ExperimentConfig.determinism: "exact" = bit-identical reruns and resumes (torch's
# deterministic algorithms, cuDNN's deterministic kernels, no autotuning); "fast" = cuDNN
# autotunes and may pick non-deterministic kernels (reruns agree to rounding); "auto" = exact on
# the CPU (where it costs nothing) and fast on CUDA, where exact made the VGG16-encoder
# generators' step 10x slower on an H200 (docs/performance.md). colorlib.runtime applies it.
DETERMINISM = ("auto", "exact", "fast")
# ExperimentConfig.fid_kid: whether an evaluation computes FID and KID (colorlib.fid). Their
# Inception features cost about 0.19 s per test image on two CPU cores (an evaluation's other
# metrics: ~0.02 s), so "auto" computes them on CUDA only; "on" everywhere; "off" never.
FID_KID = ("auto", "on", "off")
# the generators and heads colorlib.networks.define_G builds
GENERATORS = ("unet", "vgg16_unet")
HEADS = ("regression", "classification")


def loss_switch(term: str, default: bool) -> Any:
    """A field that enables the generator loss term ``term`` (a key of
    :data:`colorlib.losses.LOSS_TERMS`)."""
    return dataclasses.field(default=default, metadata={"loss_switch": term})


def loss_weight(term: str, default: float) -> Any:
    """A field that weighs the generator loss term ``term`` (a term without one weighs 1)."""
    return dataclasses.field(default=default, metadata={"loss_weight": term})


@dataclass(frozen=True)
class ExperimentConfig:
    """Every knob of a colorization experiment (defaults = the study's ``full`` scale)."""

    model_id: str = "A"  # names the output folders models/{ID}, results/{ID}
    # --- losses: L_G = lambda_l1 * L1 + lambda_perceptual * L_perc + L_adv
    #     + lambda_classification * L_cls (enabled terms). Each term of colorlib.losses.LOSS_TERMS
    #     has a switch here (loss_switch) and, unless its weight is 1, a weight (loss_weight).
    use_l1: bool = loss_switch("l1", True)
    lambda_l1: float = loss_weight("l1", 100.0)
    use_perceptual: bool = loss_switch("perceptual", False)
    lambda_perceptual: float = loss_weight("perceptual", 10.0)
    use_gan: bool = loss_switch("adv", False)
    gan_warmup_epochs: int = 0  # epochs without the GAN (D untrained, no L_adv) before it starts
    # Zhang et al.'s class-rebalanced cross-entropy over ab bins (head="classification" only)
    use_classification: bool = loss_switch("classification", False)
    lambda_classification: float = loss_weight("classification", 1.0)
    rebalance_lambda: float = 0.5  # w ∝ ((1 − λ) p̃ + λ / Q)^−1; 1 = no rebalancing
    # DDColor's colourfulness loss on the predicted sRGB (colorlib.losses.colorfulness_loss);
    # 15.625 keeps DDColor's balance with L1 (losses.DDCOLOR_COLORFULNESS_WEIGHT)
    use_colorfulness: bool = loss_switch("colorfulness", False)
    lambda_colorfulness: float = loss_weight("colorfulness", 15.625)
    # --- networks
    generator: str = "unet"  # "unet" (pix2pix) or "vgg16_unet" (ImageNet VGG16 encoder)
    head: str = "regression"  # "regression" (tanh ab) or "classification" (Q = 261 bins)
    temperature: float = 0.38  # the classification head's annealed mean (Zhang's T)
    # vgg16_unet: the encoder's lr = lr × this; 0 = frozen, the default: at the cpu profile on
    # BSDS500 frozen and 0.1 gave the same ΔE00 (11.18 vs 11.15) and PSNR (23.12 vs 23.20 dB)
    # at two thirds of the epoch time (docs/colour.md)
    encoder_lr_scale: float = 0.0
    image_size: int = 256  # power of two >= 32; the U-Net has log2(image_size) levels
    ngf: int = 64  # generator width (pix2pix ngf)
    ndf: int = 64  # discriminator width
    # --- optimisation (Adam for G and D; constant lr, then linear decay to 0 at `epochs`)
    batch_size: int = 64
    epochs: int = 50
    decay_start: int = 25  # epochs at constant lr before the linear decay
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # --- augmentation (training only; docs/study.md)
    augment: bool = True
    hflip: bool = True
    rotation_deg: float = 15.0
    translate: float = 0.1
    color_jitter: bool = True
    # --- data
    data_dir: str = "data/colorize_dataset/data"  # Kaggle layout or a photo folder
    train_splits: tuple[str, ...] = ("train",)
    split_file: str = ""  # JSON train/val split (create_validation_split); wins over the next two
    val_split: str = "val"  # used when val_holdout == 0
    val_holdout: int = 0  # > 0: hold this many training photos out (seeded) for validation
    test_split: str = "test"  # "": the data folder itself is the test set (flat photos)
    max_train_images: int = 0  # 0 = all; caps keep the smoke profile fast
    max_test_images: int = 0
    on_bad: str = "skip"  # "skip" (logged, counted) or "raise" for unusable photos
    # training photos whose colourfulness (Hasler & Süsstrunk, 0–255) is below this are left
    # out (logged, counted as low_colorfulness); 0 = off; BigColor leaves out ImageNet's below 15
    min_colorfulness: float = 0.0
    # --- run
    seed: int = DEFAULT_SEED
    checkpoint_every: int = 10  # interval checkpoints models/{ID}/checkpoint_epoch_*.pt
    val_sample_count: int = 4  # validation images in val_samples_{ID}_epoch_*.png
    device: str = "auto"  # "auto" (cuda > mps > cpu), "cpu", "cuda", "cuda:1", "mps"
    bf16_autocast: bool = True  # on CUDA only
    cpu_bf16_autocast: bool = False  # bf16 on CPU: ~1.6x for perceptual models, not exact
    channels_last: bool = True  # on CUDA only
    # torch's fused Adam kernel: ~7 % faster steps on CPU (benchmarks/RESULTS.md), but not
    # bit-identical to the default foreach Adam that produced the committed tables
    fused_adam: bool = False
    num_workers: int = 0  # DataLoader processes gathering uint8 batches (augmentation: on device)
    # CPU threads of torch and processes of the photo decoder: 0 = torch's default (every core)
    # and up to 8 decoders; run_all.py --jobs N gives each job its share of the cores
    threads: int = 0
    # per-epoch scalars and the validation grid as TensorBoard events in results/{ID}/tensorboard
    tensorboard: bool = False
    # "auto" (exact on the CPU, fast on CUDA), "exact" (bit-identical reruns and resumes) or
    # "fast" (cuDNN autotuning, reruns equal to rounding): colorlib.runtime.set_determinism
    determinism: str = "auto"
    compile: bool = False  # torch.compile the training passes of G and D (docs/performance.md)
    fid_kid: str = "auto"  # FID and KID in the evaluation: "auto" (on CUDA only), "on", "off"
    backbone: str = "imagenet"  # "random" only for tiny tests: results labelled as such
    # --- output roots (relative paths are relative to the working directory)
    models_dir: str = "models"
    results_dir: str = "results"
    cache_dir: str = "data/cache"

    def __post_init__(self) -> None:
        _check_types(self)
        _check_ranges(self)
        if not self.loss_weights():
            switches = ", ".join(f.name for f in fields(self) if "loss_switch" in f.metadata)
            raise ConfigError(f"at least one of {switches} must be True")
        _check_networks(self)
        if self.decay_start > self.epochs:  # each end is in RANGES
            raise ConfigError(
                f"need 1 <= epochs and 0 <= decay_start <= epochs; got epochs={self.epochs}, "
                f"decay_start={self.decay_start}"
            )
        if self.on_bad not in ("skip", "raise"):
            raise ConfigError(f"on_bad must be 'skip' or 'raise'; got {self.on_bad!r}")
        _check_choices(self)
        if self.determinism not in DETERMINISM:
            raise ConfigError(
                f"determinism must be one of {list(DETERMINISM)}; got {self.determinism!r}"
            )
        if self.fid_kid not in FID_KID:
            raise ConfigError(f"fid_kid must be one of {list(FID_KID)}; got {self.fid_kid!r}")

    def loss_weights(self) -> dict[str, float]:
        """The enabled loss terms and their weights, by term name in field order
        (``{"l1": 100.0, "adv": 1.0}`` for B): a term without a weight field weighs 1."""
        weights = {
            f.metadata["loss_weight"]: getattr(self, f.name)
            for f in fields(self)
            if "loss_weight" in f.metadata
        }
        return {
            f.metadata["loss_switch"]: weights.get(f.metadata["loss_switch"], 1.0)
            for f in fields(self)
            if "loss_switch" in f.metadata and getattr(self, f.name)
        }

    def loss_settings(self) -> dict[str, Any]:
        """Each loss term as ``presets`` and the training notebook show it, in term order: its
        weight field and the weight ("-" when the term is off) or, for a term weighed 1, its
        switch field and "yes"/"no" (``{"lambda_l1": 100.0, "lambda_perceptual": "-",
        "use_gan": "yes", "lambda_classification": "-"}`` for B)."""
        on = self.loss_weights()
        weight_fields = {f.metadata["loss_weight"]: f.name for f in fields(self)
                         if "loss_weight" in f.metadata}  # fmt: skip
        out: dict[str, Any] = {}
        for f in fields(self):
            term = f.metadata.get("loss_switch")
            if term in weight_fields:
                out[weight_fields[term]] = on[term] if term in on else "-"
            elif term is not None:
                out[f.name] = "yes" if term in on else "no"
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def what(self) -> dict[str, Any]:
        """The fields that decide the results (everything but :data:`HOW_FIELDS`)."""
        return {k: v for k, v in self.to_dict().items() if k not in HOW_FIELDS}

    def differs_from(self, other: ExperimentConfig) -> list[str]:
        """The "what" fields in which ``other`` differs: empty when both are the same run.

        Paths are compared resolved: ``../data`` and its absolute form are the same folder.
        """
        mine, theirs = self.what(), other.what()
        return sorted(k for k in mine if not _same_value(k, mine[k], theirs[k]))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentConfig:
        """Build from a plain dict; unknown keys raise ValueError, wrong types TypeError."""
        if not isinstance(values, dict):
            raise ConfigTypeError(
                f"a config is a mapping of field names to values; got {type(values).__name__}"
            )
        _check_keys(values)
        return cls(**{k: _coerce_sequence(k, v) for k, v in values.items()})

    def replace(self, **overrides: Any) -> ExperimentConfig:
        _check_keys(overrides)
        return dataclasses.replace(
            self, **{k: _coerce_sequence(k, v) for k, v in overrides.items()}
        )


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric field: ``low``..``high``, each end open or closed;
    every value must also be finite (no NaN, no inf)."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        return (
            f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
            f"{')' if self.high_open else ']'}"
        )


BIG = 10**9  # "no practical limit" for counts: a bound that still refuses overflows
# Every int and float field's valid range, checked at construction (tests/unit/test_config.py
# walks them all). Bounds beyond what any run could use are there to turn typos (1e300, -1)
# into one-line errors instead of overflows, Python slices or silent clamps.
RANGES: dict[str, Range] = {
    "lambda_l1": Range(0, 1e4),
    "lambda_perceptual": Range(0, 1e4),
    "gan_warmup_epochs": Range(0, BIG),  # and < epochs (below)
    "lambda_classification": Range(0, 1e4),
    "lambda_colorfulness": Range(0, 1e4),
    "min_colorfulness": Range(0, 300),  # Hasler & Süsstrunk on 0–255 photos stay below ~200
    "rebalance_lambda": Range(0, 1),
    "temperature": Range(0, 100, low_open=True),
    "encoder_lr_scale": Range(0, 10),
    "image_size": Range(32, 8192),  # and a power of two (networks.define_G)
    "ngf": Range(1, 1024),
    "ndf": Range(1, 1024),
    "batch_size": Range(1, 65536),
    "epochs": Range(1, 100_000),
    "decay_start": Range(0, 100_000),  # and <= epochs (below)
    "lr": Range(0, 1, low_open=True),
    "beta1": Range(0, 1, high_open=True),
    "beta2": Range(0, 1, high_open=True),
    "rotation_deg": Range(0, 180),  # a uniform rotation in [-rotation_deg, rotation_deg]
    "translate": Range(0, 0.5),  # the largest shift, a fraction of the side
    "val_holdout": Range(0, BIG),  # 0: the val/ folder
    "max_train_images": Range(0, BIG),  # 0: all
    "max_test_images": Range(0, BIG),  # 0: all
    "seed": Range(0, 2**32 - 1),  # numpy's seeds
    "checkpoint_every": Range(1, BIG),
    "val_sample_count": Range(1, 64),
    "num_workers": Range(0, 256),
    "threads": Range(0, 4096),
}


def _check_ranges(cfg: ExperimentConfig) -> None:
    for name, valid in RANGES.items():
        value = getattr(cfg, name)
        if value not in valid:
            raise ConfigError(f"config key {name!r} must be in {valid}; got {value!r}")


# Where and how a run computes, not what it computes: a run may resume, and a finished run still
# counts as complete, when only these differ (another device or GPU, more data workers, output
# roots moved, checkpoints written more often, more validation images drawn, TensorBoard
# events written or not, cuDNN's determinism or torch.compile: rounding-level differences, as a
# device's own; FID and KID computed or not: they add metrics, and an evaluation without them
# is stale for fid_kid="on", colorlib.runs.evaluated_record). Every other field is "what": it
# changes the weights or the metrics.
HOW_FIELDS = frozenset(
    {
        "device",
        "num_workers",
        "threads",
        "tensorboard",
        "determinism",
        "compile",
        "fid_kid",
        "models_dir",
        "results_dir",
        "cache_dir",
        "checkpoint_every",
        "val_sample_count",
    }
)

# What an evaluation may change on trained weights: the same checkpoint scored on other photos
# (a further test set) or with another LPIPS backbone. Every other "what" field of a
# checkpoint's config must match the run it is evaluated under (colorlib.evaluation).
EVALUATION_FIELDS = frozenset({"data_dir", "test_split", "max_test_images", "backbone"})

# fields that hold paths (relative ones are relative to the working directory, or to the
# project folder for the notebooks); "sample" in data_dir names the embedded photos
PATH_FIELDS = ("data_dir", "split_file", "models_dir", "results_dir", "cache_dir")

# the validation split's seed: one split for every model and every training seed
SPLIT_SEED = DEFAULT_SEED

# The study's configurations (the paper's table, docs/study.md): losses only.

PRESETS: dict[str, dict[str, Any]] = {
    "A": dict(use_l1=True, lambda_l1=100.0, use_perceptual=False, use_gan=False),
    "B": dict(use_l1=True, lambda_l1=100.0, use_perceptual=False, use_gan=True),
    "C": dict(
        use_l1=True, lambda_l1=100.0, use_perceptual=True, lambda_perceptual=10.0, use_gan=True
    ),
    "D": dict(use_l1=False, use_perceptual=True, lambda_perceptual=10.0, use_gan=False),
    "E": dict(
        use_l1=True, lambda_l1=100.0, use_perceptual=True, lambda_perceptual=10.0, use_gan=False
    ),
    "F": dict(use_l1=False, use_perceptual=True, lambda_perceptual=10.0, use_gan=True),
    "C_L1_LOW": dict(
        use_l1=True, lambda_l1=50.0, use_perceptual=True, lambda_perceptual=10.0, use_gan=True
    ),
    "C_L1_HIGH": dict(
        use_l1=True, lambda_l1=200.0, use_perceptual=True, lambda_perceptual=10.0, use_gan=True
    ),
    "C_PERCEPTUAL_LOW": dict(
        use_l1=True, lambda_l1=100.0, use_perceptual=True, lambda_perceptual=5.0, use_gan=True
    ),
    "C_PERCEPTUAL_HIGH": dict(
        use_l1=True, lambda_l1=100.0, use_perceptual=True, lambda_perceptual=20.0, use_gan=True
    ),
}
ORIGINAL = tuple(PRESETS)  # the original study's ten configurations

# The extended group (docs/colour.md): the field's answers to sepia — a pretrained encoder,
# Zhang et al.'s class-rebalanced classification, DDColor's colourfulness loss (weight
# DDCOLOR_COLORFULNESS_WEIGHT) and BigColor's filter of dull training photos (colourfulness
# below 15 left out) — alone and together.
EXTENDED: dict[str, dict[str, Any]] = {
    "A_VGG": PRESETS["A"] | dict(generator="vgg16_unet"),
    "B_VGG": PRESETS["B"] | dict(generator="vgg16_unet"),
    "CLS": dict(use_l1=False, use_classification=True, head="classification"),
    "CLS_VGG": dict(
        use_l1=False, use_classification=True, head="classification", generator="vgg16_unet"
    ),
    # DDColor's colourfulness loss on the encoder models, and BigColor's training filter
    "A_VGG_CF": PRESETS["A"] | dict(generator="vgg16_unet", use_colorfulness=True),
    "B_VGG_CF": PRESETS["B"] | dict(generator="vgg16_unet", use_colorfulness=True),
    "A_VGG_CF_VIVID": PRESETS["A"]
    | dict(generator="vgg16_unet", use_colorfulness=True, min_colorfulness=15.0),
}
PRESETS |= EXTENDED
BASELINES = ("GRAY",)  # evaluated, never trained
# what every configuration is compared with in the tables (the original's winner, plain L1)
REFERENCE = "A"


def model_groups() -> dict[str, tuple[str, ...]]:
    """What ``--models`` accepts besides ids: ``original`` (the default: every preset but the
    extended group, and GRAY — the original ten, and any preset added to :data:`PRESETS`) and
    ``extended`` (every configuration)."""
    return {
        "original": tuple(m for m in model_ids() if m not in EXTENDED),
        "extended": model_ids(),
    }


def model_ids() -> tuple[str, ...]:
    """Every configuration a study can run, in study order: the presets (the original ten,
    then the extended group), then the baselines. The one list of models: the CLI, the runner,
    the tables and the page read it (adding a preset to :data:`PRESETS` adds it everywhere)."""
    return (*PRESETS, *BASELINES)


def select_models(selection: str) -> tuple[str, ...]:
    """``--models``: a group name of :func:`model_groups` or comma-separated ids (groups may
    be among them: ``extended`` or ``original,CLS``), in study order, each once."""
    chosen: list[str] = []
    for item in (s.strip() for s in selection.split(",")):
        if item:
            chosen += model_groups().get(item, (item,))
    require_known(chosen or [selection])
    return tuple(m for m in model_ids() if m in chosen)


def require_known(models: typing.Iterable[str] = (), profile: str | None = None) -> None:
    """The one check, and wording, of model ids and a profile name (the CLI, the study runner
    and :func:`make_config` ask it)."""
    unknown = sorted(set(models) - set(model_ids()))
    if unknown:
        raise ConfigError(
            f"unknown model(s) {unknown}; choose ids from {list(model_ids())} "
            f"or a group from {list(model_groups())}"
        )
    if profile is not None and profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")


# Scale only. `cpu`: see docs/scale.md, "The profiles", for the measured time of all ten models.
PROFILES: dict[str, dict[str, Any]] = {
    "full": dict(
        image_size=256,
        ngf=64,
        ndf=64,
        batch_size=64,
        epochs=50,
        decay_start=25,
        checkpoint_every=10,
    ),
    "cpu": dict(
        image_size=64, ngf=32, ndf=32, batch_size=16, epochs=8, decay_start=4, checkpoint_every=4
    ),
    "smoke": dict(
        image_size=32,
        ngf=8,
        ndf=8,
        batch_size=4,
        epochs=2,
        decay_start=1,
        checkpoint_every=1,
        max_train_images=16,
        max_test_images=4,
        val_sample_count=2,
    ),
}


def profiles_of_size(image_size: int) -> str:
    """The profiles that train at ``image_size``, for messages: ``"the smoke profile"``,
    ``"no profile"``."""
    names = [name for name, values in PROFILES.items() if values["image_size"] == image_size]
    return f"the {' / '.join(names)} profile" if names else "no profile"


def make_config(model_id: str, profile: str = "full", **overrides: Any) -> ExperimentConfig:
    """Preset ``model_id`` at scale ``profile``, then ``overrides`` (any field).

    ``GRAY`` gives the data/scale settings for evaluating the ab = 0 baseline.
    """
    require_known([model_id], profile)
    values = {"model_id": model_id, **PRESETS.get(model_id, {}), **PROFILES[profile]}
    _check_keys(overrides)
    values.update(overrides)
    return ExperimentConfig.from_dict(values)


def load_config(path: str | os.PathLike) -> ExperimentConfig:
    """The config a JSON file holds (:meth:`ExperimentConfig.to_dict`'s keys: every field, as
    a run's config crosses a process boundary, e.g. to ``torchrun``'s ranks)."""
    import json

    try:
        values = json.loads(open(path, encoding="utf-8").read())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"cannot read config file {path}: {err}") from err
    try:
        return ExperimentConfig.from_dict(values)
    except ConfigError as err:
        raise type(err)(f"{path}: {err}") from err


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=3", "use_gan=false", "train_splits=train,val"]`` -> typed dict."""
    out: dict[str, Any] = {}
    hints = _hints()
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"override {pair!r} is not key=value")
        _check_keys({key: None})
        if key == "model_id":  # a preset's id names its settings: another needs its preset
            raise ConfigError("model_id is not an override: choose the model with --model / "
                              "--models")  # fmt: skip
        out[key] = _parse_value(key, raw, hints[key])
    return out


DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")  # what runtime.select_device accepts
BACKBONES = ("imagenet", "random")  # colorlib.pretrained's: "random" for tiny tests only
# folders whose empty value would silently mean the working directory
ROOT_FIELDS = ("data_dir", "models_dir", "results_dir", "cache_dir")


def _check_choices(cfg: ExperimentConfig) -> None:
    """The string fields with a fixed set of values, and paths that must name something."""
    if not DEVICE.fullmatch(cfg.device):
        raise ConfigError(
            f"device must be auto, cpu, mps, cuda or cuda:N (N a GPU's number); got {cfg.device!r}"
        )
    if cfg.backbone not in BACKBONES:
        raise ConfigError(f"backbone must be one of {list(BACKBONES)}; got {cfg.backbone!r}")
    empty = [k for k in ROOT_FIELDS if not str(getattr(cfg, k)).strip()]
    if empty:
        raise ConfigError(
            f"config key {empty[0]!r} is empty, which would silently mean the working "
            "directory: name the folder ('.' for the working directory)"
        )
    if not cfg.train_splits:
        raise ConfigError("config key 'train_splits' is empty: name at least one split (train)")


def _check_networks(cfg: ExperimentConfig) -> None:
    if cfg.generator not in GENERATORS:
        raise ConfigError(f"generator must be one of {list(GENERATORS)}; got {cfg.generator!r}")
    if cfg.head not in HEADS:
        raise ConfigError(f"head must be one of {list(HEADS)}; got {cfg.head!r}")
    if cfg.use_classification and cfg.head != "classification":
        raise ConfigError(
            "use_classification needs head='classification' (the loss reads the bin logits); "
            f"got head={cfg.head!r}"
        )
    if not cfg.gan_warmup_epochs < cfg.epochs or (cfg.gan_warmup_epochs and not cfg.use_gan):
        raise ConfigError(
            f"gan_warmup_epochs must be in [0, epochs) and needs use_gan; got "
            f"{cfg.gan_warmup_epochs} (epochs={cfg.epochs}, use_gan={cfg.use_gan})"
        )


# --- type checking --------------------------------------------------------------------------


def _same_value(key: str, a: Any, b: Any) -> bool:
    if a == b:
        return True
    if key in PATH_FIELDS and a and b and "sample" not in (a, b):
        return os.path.realpath(a) == os.path.realpath(b)
    return False


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(ExperimentConfig)


def _check_keys(values: dict[str, Any]) -> None:
    known = {f.name for f in fields(ExperimentConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")


def _coerce_sequence(key: str, value: Any) -> Any:
    # JSON gives lists where the config holds tuples
    is_tuple = typing.get_origin(_hints()[key]) is tuple
    return tuple(value) if is_tuple and isinstance(value, list) else value


def _check_types(cfg: ExperimentConfig) -> None:
    for name, hint in _hints().items():
        value = getattr(cfg, name)
        if not _is_instance(value, hint):
            raise ConfigTypeError(f"config key {name!r} must be {_type_name(hint)}; got {value!r}")


def _is_instance(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item, _) = typing.get_args(hint)
        return isinstance(value, tuple) and all(_is_instance(v, item) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_is_instance(value, h) for h in typing.get_args(hint))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def _parse_value(key: str, raw: str, hint: Any) -> Any:
    if typing.get_origin(hint) is tuple:
        return tuple(s.strip() for s in raw.split(",") if s.strip())
    if hint is bool:
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ConfigTypeError(f"config key {key!r} must be a boolean (true/false); got {raw!r}")
    try:
        return hint(raw) if hint in (int, float) else raw
    except ValueError as err:
        raise ConfigTypeError(
            f"config key {key!r} must be {_type_name(hint)}; got {raw!r}"
        ) from err
