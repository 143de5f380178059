"""colorlib: a reproducible study of automatic image colorization in CIE Lab.

Core: :mod:`colorlib.color` (Lab normalisation and conversions), :mod:`colorlib.networks`
(U-Net generator, PatchGAN), :mod:`colorlib.losses`, :mod:`colorlib.metrics`,
:mod:`colorlib.pretrained` (ImageNet weights), :mod:`colorlib.data` (photos -> samples).
Engine: :mod:`colorlib.config`, :mod:`colorlib.training`, :mod:`colorlib.evaluation`,
:mod:`colorlib.colorize`, the CLI in :mod:`colorlib.__main__`. Suite:
:mod:`colorlib.experiment` (the template notebook's calls), :mod:`colorlib.study`
(``run_all.py``), :mod:`colorlib.comparison`, :mod:`colorlib.datasets`, :mod:`colorlib.bench`.
"""

__version__ = "0.1.0"
