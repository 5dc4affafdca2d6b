"""Which input bases drive a prediction: ISM, gradient x input, DeepLIFT/SHAP.

Also the outputs built from them (modisco-ready arrays, contribution bigWigs, logos).

The heavy optional packages (tangermeme, modisco-lite, memelite, pyjaspar, logomaker) are
imported only when a function needs them; a missing one raises an InputError naming
``pip install 'genodil[interpret]'``.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Objective": "objective",
    "ScalarModel": "objective",
    "ism": "ism",
    "ism_hypothetical": "ism",
    "model_reach": "ism",
    "gradient_x_input": "gradients",
    "saliency": "gradients",
    "deep_lift_shap": "deeplift",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"genodil.interpret.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'genodil.interpret' has no attribute {name!r}")


__all__ = [
    "Objective",
    "ScalarModel",
    "deep_lift_shap",
    "gradient_x_input",
    "ism",
    "ism_hypothetical",
    "model_reach",
    "saliency",
]
