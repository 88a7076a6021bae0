"""An exported .onnx file behind a detector's or segmentor's ``forward``.

:class:`BackendModel` (registered in mmengine's MODELS) keeps the config's
data preprocessor, runs the graph in ONNX Runtime or OpenVINO and returns
``DetDataSample``/``SegDataSample`` predictions, like mmdeploy's
``End2EndModel``: mmengine's test loop, mmdet's and mmseg's evaluators,
``--show-dir`` and ``--out`` work on it unchanged.
"""
import json
import logging
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import MODELS, DefaultScope
from torch import nn

from ..errors import InputError
from ..models.builder import scope_registries
from .postprocess import detections_to_instances
from .precision import (check_precision, openvino_compiled_precision,
                        openvino_config)

BACKENDS = ('onnxruntime', 'openvino')
# A fixed-size file padding an image to more than this many times its area
# is warned about (once).
PADDING_WARNING_RATIO = 1.5
METADATA_PREFIX = 'mmfasternet.'


def read_metadata(onnx_file: str) -> dict:
    """The ``mmfasternet.*`` metadata the export tool wrote into the file.
    """
    import onnx
    if not osp.isfile(onnx_file):
        raise InputError(f'ONNX file not found: {onnx_file}. Export one with '
                         f'tools/deployment/pytorch2onnx.py CONFIG '
                         f'CHECKPOINT --out {onnx_file}.')
    try:
        model = onnx.load(onnx_file, load_external_data=False)
    except Exception as error:
        raise InputError(f'{onnx_file} is not an ONNX model ({error}).') \
            from None
    return {p.key[len(METADATA_PREFIX):]: json.loads(p.value)
            for p in model.metadata_props
            if p.key.startswith(METADATA_PREFIX)}


def write_metadata(model, metadata: dict) -> None:
    """Set ``model``'s (an ``onnx.ModelProto``) ``mmfasternet.*`` metadata
    to ``metadata``, replacing what it had."""
    kept = [p for p in model.metadata_props
            if not p.key.startswith(METADATA_PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in metadata.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = METADATA_PREFIX + key, json.dumps(value)


class Session:
    """One ONNX file compiled for a backend on CPU; ``run(image)`` gives
    the outputs as tensors in the graph's order. ``precision`` is asked of
    the runtime (default fp32, see :mod:`.precision`); the attribute
    ``precision`` is what the runtime reports it compiled: ``fp32`` or
    ``bf16``, and for a file of ``tools/deployment/quantize.py`` ``int8``
    (its float part in fp32) or ``int8+bf16``. ``metadata``: the file's,
    where the caller has read it already."""

    def __init__(self, onnx_file: str, backend: str = 'onnxruntime',
                 num_threads: Optional[int] = None,
                 precision: Optional[str] = None,
                 metadata: Optional[dict] = None) -> None:
        if backend not in BACKENDS:
            raise InputError(f'--backend {backend}: choose one of '
                             f'{", ".join(BACKENDS)}.')
        precision = check_precision(backend, precision)
        self.backend = backend
        if backend == 'onnxruntime':
            import onnxruntime as ort
            options = ort.SessionOptions()
            if num_threads:
                options.intra_op_num_threads = num_threads
                options.inter_op_num_threads = 1
            self.session = ort.InferenceSession(
                onnx_file, options, providers=['CPUExecutionProvider'])
            self.input_names = [i.name for i in self.session.get_inputs()]
            self.precision = precision  # the CPU provider's only one
        else:
            import openvino as ov
            self.session = ov.Core().compile_model(
                onnx_file, 'CPU', openvino_config(precision, num_threads))
            self.input_names = [port.any_name
                                for port in self.session.inputs]
            self.precision = openvino_compiled_precision(self.session)
        if metadata is None:
            metadata = read_metadata(onnx_file)
        if metadata.get('precision') == 'int8':
            self.precision = 'int8' if self.precision == 'fp32' \
                else f'int8+{self.precision}'

    def run(self, image: torch.Tensor,
            image_size: Optional[Sequence[int]] = None
            ) -> List[torch.Tensor]:
        """Outputs for one image; a detector's graph also takes the
        (height, width) of the image inside the padding (default: all of
        it), which its boxes are clipped to."""
        feeds = {'image': np.ascontiguousarray(
            image.detach().cpu().numpy(), dtype=np.float32)}
        if 'image_size' in self.input_names:
            if image_size is None:
                image_size = image.shape[-2:]
            feeds['image_size'] = np.asarray(
                [int(image_size[0]), int(image_size[1])], dtype=np.int64)
        if self.backend == 'onnxruntime':
            outputs = self.session.run(None, feeds)
        else:
            result = self.session(feeds)
            outputs = [result[port] for port in self.session.outputs]
        return [torch.from_numpy(np.asarray(o)) for o in outputs]


def _build_preprocessor(cfg: dict, scope: Optional[str]) -> nn.Module:
    """The config's data preprocessor, built in the config's scope whatever
    default scope an earlier runner in this process left set."""
    scope = scope or 'mmengine'
    with DefaultScope.overwrite_default_scope(scope):
        return scope_registries(scope).MODELS.build(cfg)


def _num_classes(model_cfg: dict) -> Optional[int]:
    for head in ('roi_head.bbox_head', 'bbox_head', 'decode_head'):
        node = model_cfg
        for key in head.split('.'):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and 'num_classes' in node:
            return node['num_classes']
    return None


@MODELS.register_module()
class BackendModel(BaseModel):
    """A detector or segmentor exported to ONNX, run by a backend.

    Args:
        onnx_file (str): File written by ``tools/deployment/pytorch2onnx.py``.
        backend (str): ``'onnxruntime'`` or ``'openvino'``.
        data_preprocessor (dict): The config's ``model.data_preprocessor``.
        scope (str): ``'mmdet'`` or ``'mmseg'`` (the config's
            ``default_scope``).
        mask_threshold (float): Binarisation of masks (``test_cfg.rcnn.
            mask_thr_binary``, RTMDet-Ins's ``test_cfg.mask_thr_binary``).
            Default 0.5.
        align_corners (bool): The segmentation head's resizing. Default False.
        num_threads (int, optional): The backend's CPU threads.
        precision (str, optional): ``'fp32'`` (default) or ``'bf16'``
            (OpenVINO, on CPUs with bf16 instructions); ``self.precision``
            is what the runtime compiled.
    """

    def __init__(self, onnx_file: str, backend: str = 'onnxruntime',
                 data_preprocessor: Optional[dict] = None,
                 scope: Optional[str] = None, mask_threshold: float = 0.5,
                 align_corners: bool = False,
                 num_threads: Optional[int] = None,
                 precision: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor = _build_preprocessor(data_preprocessor, scope)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.onnx_file = onnx_file
        self.metadata = read_metadata(onnx_file)
        self.task = self.metadata.get('task')
        self.input_shape = self.metadata.get('input_shape')
        self.session = Session(onnx_file, backend, num_threads, precision,
                               self.metadata)
        self.precision = self.session.precision
        print_log(f'{onnx_file}: {backend} compiled it in {self.precision} '
                  f'(asked: {precision or "fp32"})', logger='current')
        self._warned_padding = False
        self.mask_threshold = mask_threshold
        self.align_corners = align_corners

    def _fit(self, image: torch.Tensor, img_shape: Sequence[int]
             ) -> torch.Tensor:
        """Pad (bottom, right, zeros) or crop padding to a fixed input size.
        """
        if not self.input_shape:
            return image
        height, width = self.input_shape
        if img_shape[0] > height or img_shape[1] > width:
            raise InputError(
                f'{self.onnx_file} takes {height}x{width} inputs and the '
                f'test pipeline gives a {img_shape[0]}x{img_shape[1]} image: '
                f'export again with --shape covering it, or --dynamic.')
        if height * width > PADDING_WARNING_RATIO * img_shape[0] * \
                img_shape[1] and not self._warned_padding:
            self._warned_padding = True
            print_log(
                f'{self.onnx_file} takes {height}x{width} inputs and pads '
                f'the {img_shape[0]}x{img_shape[1]} images of the test '
                f'pipeline with zeros, which the PyTorch model does not '
                f'see and which can cost accuracy: export without --shape '
                f'(dynamic) or with the test pipeline\'s size.',
                logger='current', level=logging.WARNING)
        image = image[..., :height, :width]
        return F.pad(image, (0, width - image.shape[-1], 0,
                             height - image.shape[-2]))

    def forward(self, inputs: torch.Tensor, data_samples=None,
                mode: str = 'predict'):
        if mode == 'loss':
            raise InputError(f'{self.onnx_file}: an exported model cannot '
                             f'be trained; train the PyTorch config.')
        if data_samples is None:  # standalone: predictions at input size
            data_samples = self._plain_samples(inputs)
        outputs = [
            self.session.run(self._fit(image[None].float(),
                                       sample.metainfo['img_shape']),
                             sample.metainfo['img_shape'][:2])
            for image, sample in zip(inputs, data_samples)
        ]
        if mode == 'tensor':
            return outputs
        if self.task == 'segmentation':
            return self._segmentation_results(outputs, data_samples)
        return self._detection_results(outputs, data_samples)

    def _plain_samples(self, inputs: torch.Tensor) -> list:
        if self.task == 'segmentation':
            from mmseg.structures import SegDataSample as Sample
        else:
            from mmdet.structures import DetDataSample as Sample
        shape = tuple(inputs.shape[-2:])
        return [Sample(metainfo=dict(img_shape=shape, ori_shape=shape,
                                     scale_factor=(1., 1.)))
                for _ in range(len(inputs))]

    def _detection_results(self, outputs, data_samples):
        names = self.metadata['outputs']
        for sample, output in zip(data_samples, outputs):
            sample.pred_instances = detections_to_instances(
                dict(zip(names, output)), sample.metainfo,
                self.mask_threshold, self.metadata.get('mask_stride'))
        return data_samples

    def _segmentation_results(self, outputs, data_samples):
        from mmseg.models.segmentors import BaseSegmentor
        logits = []
        for (output, ), sample in zip(outputs, data_samples):
            size = tuple(sample.metainfo['img_shape'][:2])
            if self.input_shape:  # fixed size: drop the zero padding
                output = output[..., :size[0], :size[1]]
            if tuple(output.shape[-2:]) != size:
                # mmseg resizes whole-image logits to the img_shape.
                output = F.interpolate(output, size=size, mode='bilinear',
                                       align_corners=self.align_corners)
            logits.append(output)
        return BaseSegmentor.postprocess_result(self, torch.cat(logits),
                                                data_samples)


def check_fits_config(cfg: Config, onnx_file: str) -> dict:
    """The file's metadata, after checking it was exported from a model of
    this config's task and classes; raises :class:`InputError` otherwise.
    """
    metadata = read_metadata(onnx_file)
    if 'task' not in metadata:
        raise InputError(f'{onnx_file} carries no mmfasternet metadata: '
                         f'export it with tools/deployment/pytorch2onnx.py.')
    task = 'segmentation' if cfg.get('default_scope') == 'mmseg' \
        else 'detection'
    if metadata['task'] != task:
        raise InputError(f'{onnx_file} holds a {metadata["task"]} model and '
                         f'the config is a {task} one: pass the config the '
                         f'file was exported from ({metadata.get("config")}).')
    num_classes = _num_classes(cfg.model)
    if num_classes is not None and num_classes != metadata['num_classes']:
        raise InputError(
            f'{onnx_file} predicts {metadata["num_classes"]} classes and the '
            f'config {num_classes}: pass the config the file was exported '
            f'from ({metadata.get("config")}).')
    return metadata


def backend_model_cfg(cfg: Config, onnx_file: str,
                      backend: str = 'onnxruntime',
                      num_threads: Optional[int] = None,
                      precision: Optional[str] = None) -> dict:
    """The ``model`` config dict that runs ``onnx_file`` in place of the
    config's model (checked against the config) in ``precision``."""
    check_fits_config(cfg, onnx_file)
    if backend not in BACKENDS:
        raise InputError(f'--backend {backend}: choose one of '
                         f'{", ".join(BACKENDS)}.')
    precision = check_precision(backend, precision)
    model = cfg.model
    test_cfg = model.get('test_cfg') or {}
    mask_threshold = (test_cfg.get('rcnn') or test_cfg).get(
        'mask_thr_binary', 0.5)
    decode_head = model.get('decode_head') or {}
    return dict(
        type='BackendModel',
        onnx_file=onnx_file, backend=backend,
        data_preprocessor=model.get('data_preprocessor'),
        scope=cfg.get('default_scope'),
        mask_threshold=mask_threshold,
        align_corners=decode_head.get('align_corners', False),
        num_threads=num_threads, precision=precision)


def build_backend_model(cfg: Config, onnx_file: str,
                        backend: str = 'onnxruntime',
                        num_threads: Optional[int] = None,
                        precision: Optional[str] = None) -> BaseModel:
    """``onnx_file`` as a model whose ``forward(inputs, data_samples,
    mode='predict')`` behaves like the config's PyTorch model."""
    return MODELS.build(
        backend_model_cfg(cfg, onnx_file, backend, num_threads, precision))


def use_backend_model(cfg: Config, checkpoint: str,
                      backend: Optional[str] = None,
                      tta: bool = False,
                      precision: Optional[str] = None) -> None:
    """``tools/test.py CONFIG FILE.onnx [--backend B] [--precision P]``:
    the config's model replaced by ``FILE.onnx`` in backend ``B`` (default
    ONNX Runtime) and precision ``P`` (default fp32)."""
    if not checkpoint.endswith('.onnx'):
        raise InputError(
            f'--backend {backend}: CHECKPOINT must be an .onnx file written '
            f'by tools/deployment/pytorch2onnx.py, got {checkpoint}.')
    if tta:
        raise InputError('--tta: an exported model takes one image size; '
                         'test the PyTorch checkpoint for TTA.')
    cfg.model = backend_model_cfg(cfg, checkpoint, backend or 'onnxruntime',
                                  precision=precision)
    cfg.load_from = None
    # The export holds the checkpoint's weights, which are the averaged ones
    # where the config trains with EMA (mmengine's EMAHook saves them as
    # the state_dict); the hook would copy the runtime's session.
    cfg.custom_hooks = [hook for hook in cfg.get('custom_hooks') or []
                        if not str(hook.get('type', '')).endswith('EMAHook')]
