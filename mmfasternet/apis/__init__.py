"""The layer the tools call: a model from a config and checkpoint, training
and testing as tools/train.py and tools/test.py run them, folding, export,
INT8 quantization, evaluation in any runtime and benchmarking. Each tool
parses its arguments and calls one of these."""
from .cli import run_cli
from .inferencers import build_inferencer
from .model import init_model
from .reparameterize import reparameterize_checkpoint
from .runner import (evaluate, load_config, prepare_testing, prepare_training,
                     run_testing, run_training)

__all__ = [
    'build_inferencer', 'evaluate', 'init_model', 'load_config',
    'prepare_testing', 'prepare_training', 'reparameterize_checkpoint',
    'run_cli', 'run_testing', 'run_training'
]
