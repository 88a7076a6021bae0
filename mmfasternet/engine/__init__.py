"""What the tools need beyond mmengine: pre-flight checks, CPU-only
distributed runs, exact resume, checkpoints that fit the model, evaluation
that keeps partial results, and mmseg's visualizer made to draw on any
image layout (``mmfasternet.visualization``)."""
from ..visualization import ContiguousSegLocalVisualizer
from .checkpoint_fit import CheckpointFitHook
from .hooks import RNGStateHook
from .loops import ResilientTestLoop

__all__ = ['CheckpointFitHook', 'ContiguousSegLocalVisualizer',
           'RNGStateHook', 'ResilientTestLoop']
