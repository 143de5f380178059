"""colorlib: a reproducible study of automatic image colorization in CIE Lab.

Modules: :mod:`colorlib.color` (Lab normalisation and conversions), :mod:`colorlib.networks`
(U-Net generator, PatchGAN), :mod:`colorlib.losses`, :mod:`colorlib.metrics`,
:mod:`colorlib.pretrained` (ImageNet weights) and :mod:`colorlib.data` (photos -> samples).
"""

__version__ = "0.1.0"
