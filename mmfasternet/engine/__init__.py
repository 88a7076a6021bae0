"""What the tools and configs register beyond mmengine: pre-flight checks,
exact resume, checkpoints that fit the model and evaluation that keeps
partial results. Configs name ``mmfasternet.engine`` in ``custom_imports``;
the segmentation ones also ``mmfasternet.visualization`` (mmseg's visualizer
made to draw on any image layout), so detection needs no mmseg."""
from .checkpoint_fit import CheckpointFitHook
from .hooks import RNGStateHook
from .loops import ResilientTestLoop

__all__ = ['CheckpointFitHook', 'RNGStateHook', 'ResilientTestLoop']
