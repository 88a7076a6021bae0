"""mmfasternet: FasterNet backbones for mmdet 3.x and mmseg 1.x.

Importing the package registers ``FasterNet`` in mmengine's root ``MODELS``
registry (so mmdet and mmseg configs both find it) and makes mmengine load
checkpoints safely on torch >= 2.6 and write them atomically.
"""
from .checkpoint import (register_atomic_local_backend,
                         register_safe_checkpoint_loader)
from .models import FasterNet

__version__ = '0.1.0'

register_safe_checkpoint_loader()
register_atomic_local_backend()

__all__ = ['FasterNet', '__version__']
