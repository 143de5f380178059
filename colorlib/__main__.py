"""Command line: ``python -m colorlib {train,evaluate,presets,info,colorize}``."""

from __future__ import annotations

import argparse
import json
import logging
import sys

import pandas as pd

from colorlib.config import BASELINES, PRESETS, PROFILES, make_config, parse_overrides


def _config(args: argparse.Namespace):
    overrides = parse_overrides(args.set or [])
    if args.data:
        overrides["data_dir"] = args.data
    if getattr(args, "device", None):
        overrides["device"] = args.device
    return make_config(args.model, args.profile, **overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from colorlib.training import train

    cfg = _config(args)
    history = train(cfg, resume=args.resume, progress=not args.quiet)
    best = history.loc[history["val_l1"].idxmin()]
    print(
        f"{cfg.model_id}: {len(history)} epochs, best val L1 {best['val_l1']:.4f} "
        f"at epoch {int(best['epoch'])}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from colorlib.evaluation import evaluate

    table = evaluate(_config(args), checkpoint=args.checkpoint)
    cols = ["model", "psnr", "ssim", "ciede2000", "lpips", "colorfulness_pred", "val_loss"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    rows = [
        {
            "id": k,
            "GAN": "yes" if p["use_gan"] else "no",
            "lambda_L1": p["lambda_l1"] if p["use_l1"] else "-",
            "lambda_perceptual": p["lambda_perceptual"] if p["use_perceptual"] else "-",
        }
        for k, p in PRESETS.items()
    ]
    rows.append({"id": "GRAY", "GAN": "-", "lambda_L1": "-", "lambda_perceptual": "-"})
    print(pd.DataFrame(rows).to_string(index=False))
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
            info[f"weights_{arch}"] = "NOT READY: run python -m colorlib.pretrained prepare"
    print(json.dumps(info, indent=2))
    return 0


def cmd_colorize(args: argparse.Namespace) -> int:
    from colorlib.checkpoints import load_generator
    from colorlib.colorize import colorize_files
    from colorlib.runtime import select_device

    device = select_device(args.device or "auto")
    G, _ = load_generator(args.checkpoint)
    written, failed = colorize_files(G.to(device), args.images, args.out, device=device)
    print(f"colorized {len(written)} of {len(args.images)} image(s) into {args.out}")
    for src, err in failed.items():
        print(f"FAILED {src}: {err}", file=sys.stderr)
    return 0 if not failed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colorlib", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_args(p: argparse.ArgumentParser, choices) -> None:
        p.add_argument(
            "--model",
            required=True,
            choices=choices,
            metavar="ID",
            help=f"one of {', '.join(choices)}",
        )
        p.add_argument("--profile", default="full", choices=sorted(PROFILES))
        p.add_argument("--data", help="data folder (Kaggle layout or photo folder)")
        p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
        p.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override any config field (repeatable)",
        )

    p = sub.add_parser("train", help="train one configuration")
    model_args(p, list(PRESETS))
    p.add_argument("--resume", action="store_true", help="continue from training_state.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a configuration (or GRAY) on the test set")
    model_args(p, list(PRESETS) + list(BASELINES))
    p.add_argument("--checkpoint", help="default: models/{ID}/best_model.pt")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("presets", help="the study's configurations and the profiles")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("info", help="hardware check and pretrained-weight status")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("colorize", help="colorize photos of any size with a checkpoint")
    p.add_argument("images", nargs="+")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="output folder (one file per input stem)")
    p.add_argument("--device", help="auto (default), cpu, cuda, mps")
    p.set_defaults(func=cmd_colorize)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    logging.getLogger("PIL").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
