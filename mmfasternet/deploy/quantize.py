"""INT8 post-training quantization of an exported detector or segmentor
(what ``tools/deployment/quantize.py`` runs).

ONNX Runtime's static quantization writes a QDQ graph (QuantizeLinear and
DequantizeLinear pairs around the quantized operators), which ONNX Runtime
and OpenVINO both run as int8 kernels. Only the convolutions and the matrix
products with weights are quantized (weights int8, symmetric, per output
channel;
activations uint8, per tensor, their ranges from calibration): everything
after them stays in float, so box decoding (Exp, Mul, Add on the deltas),
the scores that NMS and TopK rank (Sigmoid, Softmax), NonMaxSuppression,
RoiAlign and the resizes of the graph see float values. Calibration images
come from the config's training split through the config's own test
pipeline and data preprocessor, never from the split that is scored.
"""
import copy
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch.nn.functional as F
from mmengine.config import Config

from ..errors import InputError
from .backends import check_fits_config, read_metadata, write_metadata

# The operators given int8 kernels; the rest of the graph stays float.
QUANTIZED_OP_TYPES = ('Conv', 'MatMul', 'Gemm')
DEFAULT_CALIBRATION_IMAGES = 64


def _innermost_dataset(dataset_cfg: dict) -> dict:
    """The dataset under wrappers (RepeatDataset, ClassBalancedDataset)."""
    while 'pipeline' not in dataset_cfg and isinstance(
            dataset_cfg.get('dataset'), dict):
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def calibration_dataset(cfg: Config):
    """The config's training split, read through its test pipeline."""
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    train = cfg.get('train_dataloader') or {}
    test = cfg.get('test_dataloader') or {}
    if 'dataset' not in train or 'dataset' not in test:
        raise InputError('quantize: the config needs train_dataloader and '
                         'test_dataloader datasets (calibration reads the '
                         'training split through the test pipeline).')
    dataset_cfg = copy.deepcopy(_innermost_dataset(train['dataset']))
    dataset_cfg['pipeline'] = copy.deepcopy(
        _innermost_dataset(test['dataset'])['pipeline'])
    dataset_cfg.pop('filter_cfg', None)  # keep images without objects too
    dataset_cfg['test_mode'] = True
    try:
        return DATASETS.build(dataset_cfg)
    except (FileNotFoundError, OSError) as error:
        raise InputError(
            f'quantize: the training split of the config cannot be read '
            f'({error}); point train_dataloader.dataset.data_root at it with '
            f'--cfg-options.') from None


def calibration_images(cfg: Config, count: int,
                       input_shape: Optional[Sequence[int]] = None
                       ) -> Iterator[np.ndarray]:
    """``count`` preprocessed images (1, 3, H, W) of the training split, as
    the exported graph takes them: normalised, padded, and for a fixed-size
    file padded with zeros to ``input_shape`` (larger ones are refused, as
    :class:`~.backends.BackendModel` does)."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import MODELS
    from mmengine.utils import ProgressBar
    if count < 1:
        raise InputError(f'--calib-images {count}: give at least 1.')
    dataset = calibration_dataset(cfg)
    if len(dataset) < count:
        raise InputError(f'--calib-images {count}: the training split has '
                         f'{len(dataset)} images; give at most that.')
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    progress = ProgressBar(count)
    for index in range(count):
        data = preprocessor(pseudo_collate([dataset[index]]), False)
        image = data['inputs'].float()
        if input_shape:
            height, width = input_shape
            if image.shape[-2] > height or image.shape[-1] > width:
                raise InputError(
                    f'calibration image {index} is {image.shape[-2]}x'
                    f'{image.shape[-1]} after the test pipeline and the file '
                    f'takes {height}x{width}: export with --dynamic.')
            image = F.pad(image, (0, width - image.shape[-1], 0,
                                  height - image.shape[-2]))
        progress.update()
        yield np.ascontiguousarray(image.numpy(), dtype=np.float32)


def products_without_weights(model) -> List[str]:
    """Matrix products of two run-time tensors (no initializer input):
    RTMDet-Ins's per-instance dynamic kernels applied to its prototypes.
    They have no weights to quantize per channel, and in int8 they cost the
    trained demo RTMDet-Ins 0.9-1.0 points of mask mAP (0.1 kept in float),
    so they stay float with the rest of the post-processing."""
    weights = {init.name for init in model.graph.initializer}
    weights |= {node.output[0] for node in model.graph.node
                if node.op_type == 'Constant'}
    return [node.name for node in model.graph.node
            if node.op_type == 'MatMul'
            and not any(name in weights for name in node.input)]


def _float_node_names(model) -> List[str]:
    return [node.name for node in model.graph.node
            if node.op_type not in QUANTIZED_OP_TYPES]


def quantize_onnx(cfg: Config, fp32_file: str, out: str,
                  num_images: int = DEFAULT_CALIBRATION_IMAGES,
                  exclude: Sequence[str] = ()) -> Dict:
    """Write ``out``, the int8 form of ``fp32_file`` (an export of ``cfg``'s
    model), calibrated on ``num_images`` training images. ``exclude`` names
    convolutions or matrix products to keep in float as well. Returns a
    report: operator counts, sizes, what stayed float."""
    import onnx
    metadata = check_fits_config(cfg, fp32_file)
    if metadata.get('precision') == 'int8':
        raise InputError(f'{fp32_file} is already quantized; pass the fp32 '
                         f'export of tools/deployment/pytorch2onnx.py.')
    if osp.abspath(fp32_file) == osp.abspath(out):
        raise InputError(f'--out {out} is the input file; name another so '
                         f'that the fp32 export is kept.')
    model = onnx.load(fp32_file, load_external_data=False)
    names = {node.name for node in model.graph.node}
    unknown = sorted(set(exclude) - names)
    if unknown:
        raise InputError(f'--exclude {" ".join(unknown)}: no such node in '
                         f'{fp32_file}.')
    images = list(calibration_images(cfg, num_images,
                                     metadata.get('input_shape')))
    return quantize_file(fp32_file, out, images, exclude, split='train')


def quantize_file(fp32_file: str, out: str, images: Sequence[np.ndarray],
                  exclude: Sequence[str] = (), split: str = 'train') -> Dict:
    """Write ``out``, the int8 form of the export ``fp32_file``, with the
    activation ranges of ``images`` (``split`` names where they came from,
    for the file's metadata). Returns the report of :func:`quantize_onnx`.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader,
                                          CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    metadata = read_metadata(fp32_file)
    model = onnx.load(fp32_file, load_external_data=False)
    exclude = list(exclude) + [name for name in
                               products_without_weights(model)
                               if name not in exclude]

    # A detector's image_size input only clips boxes: the whole image.
    with_size = 'image_size' in {i.name for i in model.graph.input}

    def feed(image: np.ndarray) -> dict:
        if not with_size:
            return {'image': image}
        return {'image': image,
                'image_size': np.asarray(image.shape[-2:], dtype=np.int64)}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(feed(image) for image in images)

        def get_next(self):
            return next(self.feeds, None)

    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    quantize_static(
        fp32_file, out, Reader(), quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(QUANTIZED_OP_TYPES),
        nodes_to_exclude=list(exclude), per_channel=True,
        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
        calibrate_method=CalibrationMethod.MinMax)
    quantized = onnx.load(out)
    metadata.update(precision='int8', calibration=dict(
        split=split, images=len(images), method='MinMax',
        quantized_op_types=list(QUANTIZED_OP_TYPES),
        kept_float=list(exclude), source=osp.basename(fp32_file)))
    write_metadata(quantized, metadata)
    onnx.save(quantized, out)
    counts: Dict[str, int] = {}
    for node in quantized.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(
        operators=counts, file_bytes=osp.getsize(out),
        fp32_file_bytes=osp.getsize(fp32_file),
        calibration_images=len(images),
        quantized_nodes=sum(node.op_type in QUANTIZED_OP_TYPES
                            and node.name not in exclude
                            for node in model.graph.node),
        float_nodes=len(_float_node_names(model)) + len(exclude))


def is_quantized(metadata: dict) -> bool:
    return metadata.get('precision') == 'int8'
