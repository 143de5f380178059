"""colorlib's one command line: ``python -m colorlib`` (or ``colorlib``) with a subcommand.

    train      train one configuration              evaluate   score a run (or GRAY) on test
    colorize   colour photos of any size            presets    the ten configurations, profiles
    info       hardware and weight status           weights    prepare / status of ImageNet weights
    data       sample / download / split            study      the whole study (as run_all.py)
    export     a generator as ONNX (onnxruntime)

Every ``--data`` accepts ``sample`` (the embedded photos). Anticipated failures
(:mod:`colorlib.errors`) print one line ``error: ...`` and exit with code 2; anything else is a
bug in colorlib and prints its traceback (exit code 1).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
import traceback
from functools import partial

import pandas as pd

from colorlib.config import (
    BASELINES,
    DEFAULT_SEED,
    EXTENDED,
    HOW_FIELDS,
    N_VAL,
    PRESETS,
    PROFILES,
    SPLIT_SEED,
    ExperimentConfig,
    load_config,
    make_config,
    model_ids,
    parse_overrides,
    select_models,
)
from colorlib.errors import BUG_REPORT, ColorlibError, ConfigError
from colorlib.stopping import Stopped, stop_on_signals


def _overrides(args: argparse.Namespace) -> dict:
    overrides = parse_overrides(args.set or [])
    if args.data:
        overrides["data_dir"] = args.data
    if getattr(args, "device", None):
        overrides["device"] = args.device
    return overrides


def _config(args: argparse.Namespace) -> ExperimentConfig:
    """preset ``--model`` + ``--profile`` + overrides, or (train) ``--config FILE`` + overrides:
    a whole config as JSON, the way a run's config reaches ``torchrun``'s ranks."""
    if getattr(args, "config", None):
        if args.profile:
            raise ConfigError("--config holds a whole config: pass --set overrides, not --profile")
        return load_config(args.config).replace(**_overrides(args))
    return make_config(args.model, args.profile or "full", **_overrides(args))


def _evaluate_config(args: argparse.Namespace) -> ExperimentConfig:
    """``--profile`` given: preset + profile + overrides. Otherwise the configuration the run
    was trained with (its checkpoint's; for GRAY its last record, else the ``full`` profile),
    with ``--data``, ``--device`` and ``--set`` applied on top. Where and how it runs (the
    output roots, the device: :data:`colorlib.config.HOW_FIELDS`) is the user's, never what a
    checkpoint recorded."""
    if args.profile:
        return _config(args)
    from colorlib.checkpoints import load_checkpoint
    from colorlib.runs import RunPaths, saved_config

    overrides = _overrides(args)
    default = make_config(args.model, "full", **overrides)  # where the run's files are
    paths = RunPaths.of(default)
    if args.model in BASELINES:
        saved = saved_config(paths) or default
    else:
        ckpt = args.checkpoint or paths.best
        # under the run's name: a checkpoint of another model is refused by the evaluation
        # (colorlib.checkpoints.require_run), never recorded as this one
        saved = load_checkpoint(ckpt, kind="generator")["config"].replace(model_id=args.model)
    users = {k: getattr(default, k) for k in HOW_FIELDS}  # defaults and --set, the user's
    return saved.replace(**users).replace(**overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from colorlib.runtime import Ranks, leaving_process_group
    from colorlib.training import train

    cfg = _config(args)
    main = Ranks.from_env().main  # under torchrun: rank 0 reports
    with leaving_process_group():  # the group (if any) this process joined to train
        history = train(cfg, resume=args.resume, progress=not args.quiet and main)
    if not main:
        return 0
    best = history.loc[history["val_l1"].idxmin()]
    print(
        f"{cfg.model_id}: {len(history)} epochs, best val L1 {best['val_l1']:.4f} "
        f"at epoch {int(best['epoch'])}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from colorlib.evaluation import evaluate
    from colorlib.metrics import reported
    from colorlib.runtime import Ranks

    if not Ranks.from_env().main:  # under torchrun: rank 0 evaluates, the metrics of one process
        return 0
    table = evaluate(_evaluate_config(args), checkpoint=args.checkpoint)
    cols = ["model", *(m for m in reported() if table[m].notna().any()), "val_loss"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    rows = []
    for k in PRESETS:
        c = make_config(k)
        rows.append(
            {
                "id": k,
                "group": "extended" if k in EXTENDED else "original",
                "generator": c.generator,
                "head": c.head,
                "training photos": f"CF >= {c.min_colorfulness:g}" if c.min_colorfulness else "all",
                **c.loss_settings(),
            }
        )
    rows += [{"id": b, "group": "original"} for b in BASELINES]
    print(pd.DataFrame(rows).fillna("-").to_string(index=False))
    print("\nprofiles (scale only):")
    for name, p in PROFILES.items():
        print(f"  {name:6s} " + ", ".join(f"{k}={v}" for k, v in p.items()))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from colorlib.pretrained import ARCHS, WeightsNotFoundError, resolve
    from colorlib.runtime import hardware_info

    info = hardware_info()
    for arch in ARCHS:
        try:
            info[f"weights_{arch}"] = resolve(arch)[1].describe()
        except WeightsNotFoundError:
            info[f"weights_{arch}"] = "NOT READY: run python -m colorlib weights prepare"
    print(json.dumps(info, indent=2))
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from colorlib.pretrained import ARCHS, WeightsNotFoundError, prepare, resolve, resolve_inception

    if args.action == "prepare":
        for source in prepare():
            print(source.describe())
        return 0
    missing = 0
    for arch, find in [
        *((a, partial(resolve, a)) for a in ARCHS),
        ("FID Inception", resolve_inception),
    ]:
        try:
            print(find()[1].describe())
        except WeightsNotFoundError as err:
            missing += 1
            print(f"{arch}: not available: {err}")
    return 1 if missing else 0


def cmd_data(args: argparse.Namespace) -> int:
    from colorlib.data import create_validation_split, download_kaggle, sample_dataset

    if args.action == "sample":
        print(sample_dataset(args.out))
    elif args.action == "download":
        print(f"downloaded into {download_kaggle(args.out)}")
    else:
        if not args.data or not args.out:
            raise ConfigError("data split needs --data DIR and --out FILE.json")
        from colorlib.data import resolve_data_dir

        split = create_validation_split(
            resolve_data_dir(args.data), args.out, n_val=args.n_val, seed=args.seed
        )
        print(f"{args.out}: {len(split['train'])} train, {len(split['val'])} validation photos")
    return 0


def seed_list(text: str) -> tuple[int, ...]:
    """``"42,43,44"`` -> ``(42, 43, 44)`` (argparse type: a bad list is a usage error)."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"give one or more distinct seeds: {text!r}")
    return seeds


def cmd_study(args: argparse.Namespace) -> int:
    from colorlib.study.runner import Launcher, run_study, study_roots, summary_table

    launcher = None
    if args.launcher:
        launcher = Launcher(args.launcher, args.partition, args.gpus_per_job, args.time_min)

    roots, overrides = study_roots(
        args.models_dir, args.results_dir, args.cache_dir, parse_overrides(args.set or [])
    )
    outcomes = run_study(
        data=args.data,
        profile=args.profile,
        force=args.force,
        device=args.device,
        jobs=args.jobs,
        models=select_models(args.models),
        seeds=args.seeds,
        launcher=launcher,
        nproc_per_node=args.nproc_per_node,
        **roots,
        overrides=overrides,
        also_test=tuple(args.also_test or ()),
    )
    table = summary_table(outcomes, roots["results_dir"], roots["models_dir"])
    print("\n" + table.to_string(index=False))
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        print(f"\nFAILED: {', '.join(o.model for o in failed)}", file=sys.stderr)
        for o in failed:
            print(f"  {o.model}: {o.detail} (traceback: {o.error_file})", file=sys.stderr)
    return 1 if failed else 0


def cmd_colorize(args: argparse.Namespace) -> int:
    from colorlib.checkpoints import load_generator
    from colorlib.colorize import colorize_files
    from colorlib.runtime import select_device

    device = select_device(args.device or "auto")
    G, _ = load_generator(args.checkpoint)
    written, failed, converted = colorize_files(
        G.to(device),
        args.images,
        args.out,
        device=device,
        overwrite=args.overwrite,
        into_input_folder=args.into_input_folder,
    )
    icc = f", {len(converted)} converted to sRGB from their ICC profiles" if converted else ""
    print(f"colorized {len(written)} image(s) into {args.out} ({len(failed)} failed{icc})")
    for src, err in failed.items():
        print(f"FAILED {src}: {err}", file=sys.stderr)
    return 0 if not failed else 1


def cmd_export(args: argparse.Namespace) -> int:
    from colorlib.export import OPSET, export_onnx

    opset = args.opset or OPSET
    out = export_onnx(args.checkpoint, args.out, opset=opset, overwrite=args.overwrite)
    print(f"exported {args.checkpoint} to {out} (ONNX opset {opset})")
    return 0


def build_parser(prog: str = "colorlib") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_commands(sub)
    _add_data_commands(sub)
    _add_study_command(sub)
    return parser


def path_arg(text: str) -> str:
    """A path given on the command line: an empty one would silently mean the working
    directory (``Path("")`` is ``.``), so it is refused, naming the argument (argparse)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty, which would silently mean the working directory: name the path ('.' "
            "for the working directory)"
        )
    return text


def _set_arg(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help=help)


def _model_args(
    p: argparse.ArgumentParser, choices, profile_help: str, config_file: bool = False
) -> None:
    which = p.add_mutually_exclusive_group(required=True) if config_file else p
    which.add_argument(
        "--model",
        choices=choices,
        metavar="ID",
        help=f"one of {', '.join(choices)}",
        **({} if config_file else {"required": True}),
    )
    if config_file:
        which.add_argument(
            "--config",
            metavar="FILE",
            type=path_arg,
            help="a whole config as JSON (instead of --model)",
        )
    p.add_argument("--profile", choices=sorted(PROFILES), help=profile_help)
    p.add_argument(
        "--data", type=path_arg, help="data folder (Kaggle layout or photo folder), or 'sample'"
    )
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    _set_arg(p, "override any config field (repeatable)")


def _add_run_commands(sub) -> None:
    """train, evaluate, presets, info, weights."""
    p = sub.add_parser("train", help="train one configuration")
    _model_args(p, list(PRESETS), "scale (default: full)", config_file=True)
    p.add_argument(
        "--resume", action="store_true", help="continue the run from its saved training state"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a configuration (or GRAY) on the test set")
    _model_args(
        p,
        list(model_ids()),
        "default: the configuration the run was trained with (GRAY: full)",
    )
    p.add_argument(
        "--checkpoint", type=path_arg, help="default: the run's best checkpoint under models_dir"
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("presets", help="the study's configurations and the profiles")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("info", help="hardware check and pretrained-weight status")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("weights", help="the ImageNet VGG16 / AlexNet features, the FID Inception")
    p.add_argument(
        "action",
        choices=["prepare", "status"],
        help="prepare: resolve and cache the three (offline fallback included); status: where from",
    )
    p.set_defaults(func=cmd_weights)


def _add_data_commands(sub) -> None:
    """data, colorize, export."""
    p = sub.add_parser("data", help="the embedded sample, the Kaggle download, a validation split")
    p.add_argument(
        "action",
        choices=["sample", "download", "split"],
        help="sample: build the embedded photos; download: the original's Kaggle dataset "
        "(needs ~/.kaggle/kaggle.json); split: write a validation split file",
    )
    p.add_argument(
        "--out", type=path_arg, help="target folder (sample, download) or split file (split)"
    )
    p.add_argument("--data", type=path_arg, help="split: the data folder, or 'sample'")
    p.add_argument("--n-val", type=int, default=N_VAL, help="split: photos held out")
    p.add_argument("--seed", type=int, default=SPLIT_SEED, help="split: the hold-out seed")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser(
        "colorize",
        help="colorize photos of any size with a checkpoint",
        description="Writes OUT/{stem}.jpg for JPEG inputs, else OUT/{stem}.png; inputs whose "
        "outputs would share a name get -2, -3, ... in input order. Never replaces a file "
        "unless --overwrite, and never writes into a folder holding an input unless "
        "--into-input-folder; either refusal happens before anything is written.",
    )
    p.add_argument("images", nargs="+", type=path_arg, help="photos, or folders of photos")
    p.add_argument("--checkpoint", type=path_arg, required=True)
    p.add_argument("--out", type=path_arg, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--into-input-folder",
        action="store_true",
        help="allow --out to be a folder that holds input photos",
    )
    p.add_argument("--device", help="auto (default), cpu, cuda, mps")
    p.set_defaults(func=cmd_colorize)

    p = sub.add_parser(
        "export",
        help="a checkpoint's generator as an ONNX model (onnxruntime, no torch)",
        description="Writes the generator of a checkpoint (a run's best or interval one under "
        "models/ID/; any configuration: U-Net or VGG16 encoder, regression or classification "
        "head) as one "
        "ONNX file. Input 'L': float32 (N, 1, S, S), L*/50 - 1; output 'ab': float32 "
        "(N, 2, S, S), (a*, b*)/128; N is dynamic, S is the run's image_size (256 for the "
        "full profile, 64 cpu, 32 smoke), also in the model's metadata_props. docs/usage.md "
        "shows how to colorize a photo with onnxruntime alone.",
    )
    p.add_argument(
        "--checkpoint", type=path_arg, required=True, help="a generator checkpoint (.pt)"
    )
    p.add_argument("--out", type=path_arg, required=True, help="the .onnx file to write")
    # the default is colorlib.export.OPSET, read when exporting: building the parser imports
    # no torch (every command's start, `--help` included, stays under a second)
    p.add_argument("--opset", type=int, help="ONNX opset (default: colorlib.export.OPSET)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_export)


def _add_study_command(sub) -> None:
    p = sub.add_parser("study", help="the whole study: split, every configuration, evaluation")
    p.add_argument(
        "--data",
        default="sample",
        type=path_arg,
        help="'sample' (embedded photos), a Kaggle-layout folder or a photo folder",
    )
    p.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    p.add_argument(
        "--models",
        default="original",
        help="comma-separated ids and/or groups: 'original' (the default: the original ten and "
        f"GRAY) or 'extended' (those and {', '.join(EXTENDED)})",
    )
    p.add_argument(
        "--also-test",
        nargs="+",
        type=path_arg,
        metavar="DIR",
        help="further test sets (a flat folder of photos, or a folder with test/): every run "
        "and GRAY is also scored on each, with its own table and page section",
    )
    p.add_argument("--force", action="store_true", help="rerun complete configurations")
    p.add_argument("--device", default="auto")
    p.add_argument("--jobs", type=int, default=1, help="configurations in parallel")
    p.add_argument(
        "--seeds",
        type=seed_list,
        default=(DEFAULT_SEED,),
        help=f"training seeds, comma-separated (default {DEFAULT_SEED}); several: one run per "
        "configuration "
        "and seed, in results/seed_{S}/, and across-seed statistics",
    )
    for root, default in (("models", "models"), ("results", "results"), ("cache", "data/cache")):
        p.add_argument(
            f"--{root}-dir",
            type=path_arg,
            help=f"default {default} (or --set {root}_dir=...), under the project folder",
        )
    p.add_argument(
        "--launcher",
        choices=["local", "slurm"],
        help="one submitit job per configuration and seed: on SLURM, or local subprocesses",
    )
    p.add_argument(
        "--nproc-per-node",
        type=int,
        default=1,
        help="train each configuration data-parallel over N processes (torchrun; 1 GPU each)",
    )
    p.add_argument("--partition", help="SLURM partition (--launcher slurm)")
    p.add_argument("--gpus-per-job", type=int, default=0, help="GPUs per job (--launcher)")
    p.add_argument("--time-min", type=int, default=24 * 60, help="time limit per job, minutes")
    _set_arg(p, "override a config field for every model (repeatable)")
    p.set_defaults(func=cmd_study)


# libraries whose INFO lines are theirs, not the user's: papermill's per notebook ("Input
# Notebook", "Executing notebook with kernel"), the ONNX exporter's graph passes, matplotlib's
# and PIL's (shown with -v)
QUIET_LIBRARIES = ("matplotlib", "PIL", "papermill", "onnx_ir", "onnxscript")

# errors of the user's environment rather than of colorlib: the message names the file
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)  # a read-only mount, another's folder
IN_THE_WAY = (errno.ENOTDIR, errno.EEXIST, errno.EISDIR)  # a file where a folder goes, or back
USER_OS_ERRORS = (*DISK_FULL, *NOT_WRITABLE, *IN_THE_WAY)


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno in DISK_FULL:
        where = f" while writing {err.filename}" if err.filename else ""
        return (
            f"disk full{where}. Files written before it (checkpoints, the training state, "
            "results) are intact and the half-written file was removed: free space, then rerun "
            "(train: with --resume, which continues from the last saved epoch; colorize: with "
            "--overwrite, since the outputs it wrote before are kept)"
        )
    if isinstance(err, OSError) and err.errno in NOT_WRITABLE:
        what = "read-only" if err.errno == errno.EROFS else "not writable by you"
        return (
            f"cannot write {err.filename or 'an output'}: {what} ({err.strerror}). Point the "
            "outputs at a folder you can write (--results-dir / --models-dir / --cache-dir, "
            "--out, --set *_dir=...)"
        )
    if isinstance(err, OSError) and err.errno in IN_THE_WAY:
        kind = "a folder" if err.errno == errno.EISDIR else "a file (or under one)"
        return (
            f"cannot write {err.filename or 'an output'}: it is {kind} where colorlib needs "
            f"{'a file' if err.errno == errno.EISDIR else 'a folder'} ({err.strerror}). Point "
            "the output at another path (--results-dir / --models-dir / --cache-dir, --out, "
            "--set *_dir=...)"
        )
    return " ".join(str(err).split("\n")) or type(err).__name__


def main(argv: list[str] | None = None, prog: str = "colorlib") -> int:
    """Run one command.

    SIGINT / SIGTERM (:mod:`colorlib.stopping`) end what the command started, print one line
    saying how to resume and return 130 / 143. An anticipated failure
    (:class:`colorlib.errors.ColorlibError`, a full disk or a folder that cannot be written)
    prints
    ``error: <one line>`` and returns 2 (with ``-v`` the traceback first, for debugging).
    Anything else is a bug: its traceback and a line saying so, then exit code 1.
    """
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        with stop_on_signals():
            return args.func(args)
    except Stopped as stop:
        print(f"{RESUME_HINTS.get(args.func, RESUME_HINT)} ({stop})", file=sys.stderr)
        return stop.exit_code
    except ColorlibError as err:
        return _fail(err, args.verbose)
    except OSError as err:
        if err.errno not in USER_OS_ERRORS:
            return _bug()
        return _fail(err, args.verbose)
    except Exception:
        return _bug()


RESUME_HINT = "stopped: nothing half-written was kept; run the command again"
RESUME_HINTS = {
    cmd_study: "stopped: every finished run and each run's last saved epoch are kept; run the "
    "same command again to resume (finished configurations are skipped)",
    cmd_train: "stopped: the last saved epoch is kept; run the same command with --resume to "
    "continue from it",
}


def _fail(err: BaseException, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    print(f"error: {_one_line(err)}", file=sys.stderr)
    return 2


def _bug() -> int:
    traceback.print_exc()
    print(f"\n{BUG_REPORT}: {' '.join(sys.argv)}", file=sys.stderr)
    return 1
