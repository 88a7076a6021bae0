"""Deployment: whole detectors and segmentors exported to ONNX (standard
operators only) and run in ONNX Runtime or OpenVINO behind the model's own
``forward``."""
from .backends import (BACKENDS, BackendModel, backend_model_cfg,
                       build_backend_model, check_fits_config,
                       use_backend_model)
from .export import ExportError, exportable_model, prepare_for_export

__all__ = [
    'BACKENDS', 'BackendModel', 'ExportError', 'backend_model_cfg',
    'build_backend_model', 'check_fits_config', 'exportable_model',
    'prepare_for_export', 'use_backend_model'
]
