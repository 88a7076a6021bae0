from .fasternet import FasterNet, FasterNetBlock, PartialConv3x3

__all__ = ['FasterNet', 'FasterNetBlock', 'PartialConv3x3']
