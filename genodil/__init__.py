"""genodil: sequence-to-function modelling at single-base resolution.

Stream one-hot DNA windows from a FASTA and per-base targets from bigWigs, train a
dilated residual CNN, predict tracks to bigWig and score variants from a VCF.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genodil")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
