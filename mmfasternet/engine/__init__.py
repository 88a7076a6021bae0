"""What the tools need beyond mmengine: pre-flight checks, CPU-only
distributed runs, exact resume, evaluation that keeps partial results."""
from .hooks import RNGStateHook
from .loops import ResilientTestLoop

__all__ = ['RNGStateHook', 'ResilientTestLoop']
