"""Which input bases drive a prediction: in-silico mutagenesis and gradient x input."""

from genodil.interpret.attribution import (
    gradient_x_input,
    interpret_region,
    ism,
    plot_attribution,
)

__all__ = ["gradient_x_input", "interpret_region", "ism", "plot_attribution"]
