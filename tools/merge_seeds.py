#!/usr/bin/env python
"""Merge one-seed studies of the same configurations — run one seed at a time, or on other
machines — into one several-seed study, and write its evaluation step (tables, two-level
intervals, claims, page):

    python tools/merge_seeds.py results/shared_3seeds models/shared_3seeds \
        results/shared_1seed:models/shared_1seed results/shared_seed43:models/shared_seed43 ...

Each source is a one-seed study (its results and models roots). Its runs are linked (hard
links; copies across file systems) into ``seed_{S}/`` of the target, laid out as
``run_all.py --seeds`` lays a study out, and so are its further test sets' runs
(``test_sets/NAME/seed_{S}/``); the validation split is the first source's. Nothing is
retrained or re-evaluated. Refused: two sources with one seed, a target that exists, and runs
of one configuration whose recorded configs differ in a "what" field other than the seed and
the split file's path (each one-seed study writes its split under its own root; the split
itself is checked equal).

``--models A,B,GRAY`` merges only those configurations (ids or groups, read as
``run_all.py --models`` reads them; each must be evaluated in every source), so a study that
trained more configurations for one seed than for the others can give just the shared ones;
without it, every evaluated configuration of each source.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
from pathlib import Path

from colorlib.config import select_models
from colorlib.errors import ConfigError
from colorlib.runs import StudyPaths, saved_config
from colorlib.study.report import write_report

ALLOWED = {"seed", "split_file"}  # what differs between the seeds of one study


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=_link_or_copy)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        Path(dst).hardlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def _chosen(study: StudyPaths, wanted: tuple[str, ...] | None) -> list[str]:
    """The configurations of ``study`` to merge: ``wanted`` (each evaluated there), or all."""
    evaluated = study.evaluated_models()
    if not evaluated:
        raise SystemExit(
            f"{study.results}: no evaluated configuration (a one-seed study's results?)"
        )
    if wanted is None:
        return evaluated
    missing = [m for m in wanted if m not in evaluated]
    if missing:
        raise SystemExit(
            f"{study.results}: --models {','.join(missing)} not evaluated there "
            f"(it has {','.join(evaluated)})"
        )
    return list(wanted)


def main(results: str, models: str, *sources: str, only: tuple[str, ...] | None = None) -> None:
    target = StudyPaths(Path(results), Path(models))
    if target.results.exists() or target.models.exists():
        raise SystemExit(f"{target.results} or {target.models} exists: choose a new target")
    studies = [StudyPaths(*map(Path, s.split(":", 1))) for s in sources]
    chosen = [_chosen(study, only) for study in studies]
    first: dict[str, object] = {}
    seeds = []
    for study, names in zip(studies, chosen):
        for model in names:
            cfg = saved_config(study.run(model))
            if model in first:
                changed = set(first[model].differs_from(cfg)) - ALLOWED
                if changed:
                    raise SystemExit(f"{study.run(model).run_json}: {model} differs in {changed}")
            else:
                first[model] = cfg
        seed = {saved_config(study.run(m)).seed for m in names}
        if len(seed) != 1 or seed & set(seeds):
            raise SystemExit(f"{study.results}: seeds {sorted(seed)} (one, not yet merged)")
        seeds.append(seed.pop())
        if not filecmp.cmp(study.split, studies[0].split, shallow=False):
            raise SystemExit(f"{study.split} differs from {studies[0].split}")
    for study, names, seed in zip(studies, chosen, seeds):
        tree = target.seed_tree(seed)
        for model in names:
            _link_tree(study.run(model).results, tree.run(model).results)
            if study.run(model).models.is_dir():
                _link_tree(study.run(model).models, tree.run(model).models)
        for name in study.test_sets():
            where = target.seed_test_set(name, seed)
            for model in study.test_set(name).evaluated_models():
                if model not in names:
                    continue
                _link_tree(study.test_set(name).run(model).results, where.run(model).results)
    shutil.copy2(studies[0].split, target.split)
    files = write_report(target.results, target.models)
    print(f"merged seeds {seeds} into {target.results}; report: {files['page']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="the merged study's results root (must not exist)")
    parser.add_argument("models", help="the merged study's models root (must not exist)")
    parser.add_argument("sources", nargs="+", metavar="RESULTS:MODELS", help="one-seed studies")
    parser.add_argument(
        "--models", dest="only", metavar="A,B,...", help="configurations to merge (default all)"
    )
    args = parser.parse_args()
    try:
        only = select_models(args.only) if args.only else None
    except ConfigError as err:
        raise SystemExit(f"--models: {err}") from None
    main(args.results, args.models, *args.sources, only=only)
