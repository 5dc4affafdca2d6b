"""Models: the dilated residual network, its layers, heads and dilation schedules.

Also the receptive-field / gridding analysis. Plain ``nn.Module``s; no training, IO or
Lightning here.
"""

from genodil.models.adapters import TensorModel, as_tensor_model
from genodil.models.dilated_resnet import HEADS, DilatedResNet
from genodil.models.heads import ProfileCountHead, TrackHead, profile_signal
from genodil.models.layers import (
    ASPP,
    DilatedResidualBlock,
    center_crop,
    crop_sides,
    logsumexp_bins,
    pool_bins,
)
from genodil.models.schedules import (
    DEFAULT_DILATIONS,
    SCHEDULES,
    LayerTaps,
    TowerGeometry,
    geometry_of,
    resolve_dilations,
)

__all__ = [
    "ASPP",
    "DEFAULT_DILATIONS",
    "HEADS",
    "SCHEDULES",
    "DilatedResNet",
    "DilatedResidualBlock",
    "LayerTaps",
    "ProfileCountHead",
    "TensorModel",
    "TowerGeometry",
    "TrackHead",
    "as_tensor_model",
    "center_crop",
    "crop_sides",
    "geometry_of",
    "logsumexp_bins",
    "pool_bins",
    "profile_signal",
    "resolve_dilations",
]
