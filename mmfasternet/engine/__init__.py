"""What the tools need beyond mmengine: pre-flight checks, CPU-only
distributed runs, exact resume, checkpoints that fit the model, evaluation
that keeps partial results."""
from .checkpoint_fit import CheckpointFitHook
from .hooks import RNGStateHook
from .loops import ResilientTestLoop

__all__ = ['CheckpointFitHook', 'RNGStateHook', 'ResilientTestLoop']
