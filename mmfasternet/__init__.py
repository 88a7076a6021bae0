"""mmfasternet: FasterNet backbones for mmdet 3.x and mmseg 1.x.

Importing the package registers ``FasterNet`` in mmengine's root ``MODELS``
registry (so mmdet and mmseg configs both find it) and makes mmengine load
checkpoints safely on torch >= 2.6 and write them atomically. It also makes
mmcv's nms and RoIAlign accept bf16/fp16 inputs (computed in float32, see
``mmfasternet.ops.half_precision``) and lets configs name
``roi_layer=dict(type='FastRoIAlign', ...)`` (``mmfasternet.ops``).
"""
import warnings

from .checkpoint import (register_atomic_local_backend,
                         register_safe_checkpoint_loader)
from .models import FasterNet
from .ops import install_half_precision_fallbacks, register_fast_roi_align

__version__ = '0.1.0'

# setuptools' notice, raised when mmengine and mmcv import pkg_resources to
# read mmdet::/mmseg:: configs: addressed to them, not to users of the tools.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
register_safe_checkpoint_loader()
register_atomic_local_backend()
install_half_precision_fallbacks()
register_fast_roi_align()

__all__ = ['FasterNet', '__version__']
