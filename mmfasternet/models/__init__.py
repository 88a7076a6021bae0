from .backbones import FasterNet
from .builder import build_model, scope_registries

__all__ = ['FasterNet', 'build_model', 'scope_registries']
