"""colorlib: a reproducible study of automatic image colorization in CIE Lab.

Six layers; a module imports only from its own layer and the layers listed before it
(``tests/unit/test_layout.py`` checks it):

1. core — :mod:`~colorlib.color` (Lab normalisation and conversions), :mod:`~colorlib.networks`
   (the generators ``define_G`` builds, PatchGAN, the gray baseline), :mod:`~colorlib.quantize`
   (Zhang et al.'s ab classes), :mod:`~colorlib.losses`, :mod:`~colorlib.metrics`,
   :mod:`~colorlib.pretrained` (ImageNet weights), :mod:`~colorlib.config` (presets, profiles,
   which fields are "what" and which "where/how"), :mod:`~colorlib.stats`, and the helpers
   :mod:`~colorlib.atomic` (every file write), :mod:`~colorlib.paths`, :mod:`~colorlib.runtime`,
   :mod:`~colorlib.replicas` (a data-parallel run's collectives), :mod:`~colorlib.errors` (the
   anticipated failures, :class:`~colorlib.errors.ColorlibError`), :mod:`~colorlib.stopping`
   (SIGINT / SIGTERM end the children);
2. :mod:`colorlib.data` — photos to samples: decoding, folder layouts and caches, the dataset
   and augmentation, sources (sample, Kaggle, validation split, a config's files);
3. :mod:`~colorlib.runs` (every artifact name, ``run.json``, "is this the same run"),
   :mod:`~colorlib.checkpoints`, :mod:`~colorlib.plots` (every figure),
   :mod:`~colorlib.run_writer` (what a training run writes after each epoch);
4. :mod:`~colorlib.training`, :mod:`~colorlib.evaluation`, :mod:`~colorlib.colorize`,
   :mod:`~colorlib.export` (a generator as ONNX);
5. :mod:`colorlib.study` — the template notebook's calls, the notebooks and their parameters,
   the papermill runner behind ``run_all.py``, a study's results as loaded, the cross-model
   report, its HTML page and the explore notebook's widgets;
6. :mod:`~colorlib.cli` — ``python -m colorlib {train, evaluate, colorize, export, presets,
   info, weights, data, study}``.
"""

__version__ = "0.1.0"
