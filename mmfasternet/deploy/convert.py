"""PyTorch checkpoint -> checked ONNX file (what pytorch2onnx.py runs).

The TorchScript-based exporter of torch 2.13 (``dynamo=False``) writes the
graph; see docs/deployment.md for why not the dynamo one. Before the file is
reported as written it passes ``onnx.checker`` and one ONNX Runtime run on
the sample input whose outputs match PyTorch's.
"""
import collections
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config

from ..errors import InputError
from ..models.builder import build_model
from .backends import Session, write_metadata
from .export import ExportError, exportable_model, prepare_for_export
from .ops import MIN_OPSET, register_onnx_symbolics

# Opsets the TorchScript exporter of torch 2.13 writes and RoiAlign allows.
MAX_OPSET = 20
DEFAULT_OPSET = 17
# fp32 agreement between PyTorch and the runtimes: scores within 1e-3, boxes
# matched at IoU >= 0.99 (docs/deployment.md).
SCORE_TOLERANCE = 1e-3


def fixed_test_shape(cfg: Config, divisor: int = 32
                     ) -> Optional[Tuple[int, int]]:
    """The input size (H, W) that every image of the config's test pipeline
    fits, rounded up to ``divisor``, where the pipeline has one: a ``Pad``
    to a fixed size, a ``Resize`` to a fixed size, or one that keeps the
    ratio inside a square. None where images come out in sizes of either
    orientation (COCO's (1333, 800) with ``keep_ratio``): such a config is
    exported with a dynamic input."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'),
                                                   dict):
        dataset = dataset['dataset']
    shape = None
    for step in dataset.get('pipeline') or []:
        kind = step.get('type', '').split('.')[-1]
        if kind == 'Pad' and step.get('size'):
            shape = tuple(step['size'])  # (w, h), mmcv's order
        elif kind == 'Resize' and step.get('scale'):
            scale = step['scale']
            scale = (scale, scale) if isinstance(scale, int) else tuple(scale)
            if step.get('keep_ratio') and scale[0] != scale[1]:
                shape = None
            else:
                shape = scale
    if shape is None:
        return None
    width, height = (-(-int(size) // divisor) * divisor for size in shape)
    return height, width


def export_shape(cfg: Config, shape: Optional[Sequence[int]] = None,
                 dynamic: bool = False) -> Tuple[Tuple[int, int], bool]:
    """(size traced, dynamic) for an export: ``shape`` as given; without
    it, the fixed size every test image fits (:func:`fixed_test_shape`),
    else a dynamic input traced at 800x1344 (512x512 for segmentation).
    Measured on the demo models (docs/deployment.md): a dynamic Semantic
    FPN scored 0.19 mIoU under PyTorch, a file at the test pipeline's own
    size equal to it; a fixed 800x1344 file scored 2.1 points of bbox mAP
    under PyTorch on 256x256 images, from the zeros it pads with (the
    earlier default)."""
    if shape:
        return (int(shape[0]), int(shape[1])), dynamic
    fixed = None if dynamic else fixed_test_shape(cfg)
    if fixed:
        return fixed, False
    segmentation = cfg.get('default_scope') == 'mmseg'
    return ((512, 512) if segmentation else (800, 1344)), True


def class_names(cfg: Config) -> Optional[List[str]]:
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    metainfo = dataset.get('metainfo') or {}
    classes = metainfo.get('classes')
    return list(classes) if classes else None


def sample_image(model: nn.Module, shape: Sequence[int],
                 image_file: Optional[str] = None,
                 seed: int = 0) -> torch.Tensor:
    """The input traced and compared: ``image_file`` scaled to fit
    ``shape`` (aspect kept), normalised by the model's data preprocessor
    and padded with zeros; without a file, seeded Gaussian noise."""
    if image_file is None:
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(1, 3, *shape, generator=generator)
    import mmcv
    if not osp.isfile(image_file):
        raise InputError(f'--image {image_file}: file not found.')
    array = mmcv.imrescale(mmcv.imread(image_file), (shape[1], shape[0]))
    image = torch.from_numpy(array).permute(2, 0, 1).float()[None]
    preprocessor = model.data_preprocessor
    if getattr(preprocessor, '_channel_conversion', False) or getattr(
            preprocessor, 'channel_conversion', False):  # mmdet, mmseg
        image = image[:, [2, 1, 0]]
    if getattr(preprocessor, '_enable_normalize', False):
        image = (image - preprocessor.mean) / preprocessor.std
    return torch.nn.functional.pad(
        image, (0, shape[1] - image.shape[3], 0, shape[0] - image.shape[2]))


def operator_counts(onnx_file: str) -> Dict[str, int]:
    import onnx
    graph = onnx.load(onnx_file, load_external_data=False).graph
    return dict(collections.Counter(n.op_type for n in graph.node)
                .most_common())


def _export(module: nn.Module, inputs, out: str,
            output_names: Sequence[str], opset: int, dynamic: bool) -> None:
    """``inputs``: the image, or a tuple of the image and ``image_size``."""
    register_onnx_symbolics(opset)
    inputs = inputs if isinstance(inputs, tuple) else (inputs, )
    input_names = ['image', 'image_size'][:len(inputs)]
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {'image': {2: 'height', 3: 'width'}}
        for name in output_names:
            dynamic_axes[name] = {0: 'num'} if name != 'seg_logits' else {
                2: 'height', 3: 'width'}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The branches they name (mmdet's empty-input checks) are taken
            # the same way for every input the graph can see; the check of
            # a second input below catches any value frozen by the trace.
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            torch.onnx.export(
                module, inputs, out, dynamo=False, opset_version=opset,
                input_names=input_names, output_names=list(output_names),
                dynamic_axes=dynamic_axes, do_constant_folding=True,
                # an autograd.Function without ONNX translation (mmcv's ops)
                # must fail by name, not be traced into constants
                autograd_inlining=False)
    except (torch.onnx.errors.UnsupportedOperatorError,
            torch.onnx.errors.SymbolicValueError) as error:
        raise ExportError(str(error).splitlines()[0]) from None
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        if 'ONNX' in first or 'export' in first:
            raise ExportError(first) from None
        raise


def _finish(out: str, metadata: dict) -> None:
    """Refuse non-standard operators, drop the Identity nodes the
    exporter adds for equal initializers, and write ``metadata``."""
    import onnx
    model = onnx.load(out)
    graph = model.graph
    custom = sorted({f'{n.domain}::{n.op_type}' for n in graph.node
                     if n.domain not in ('', 'ai.onnx')})
    if custom:
        raise ExportError(f'{", ".join(custom)} is not a standard ONNX '
                          f'operator; the runtimes would need its library.')
    outputs = {o.name for o in graph.output}
    alias = {n.output[0]: n.input[0] for n in graph.node
             if n.op_type == 'Identity' and n.output[0] not in outputs}
    kept = [n for n in graph.node if n.output[0] not in alias
            or n.op_type != 'Identity']
    for node in kept:
        for i, name in enumerate(node.input):
            while name in alias:
                name = alias[name]
            node.input[i] = name
    del graph.node[:]
    graph.node.extend(kept)
    write_metadata(model, metadata)
    onnx.save(model, out)


MATCH_IOU = 0.99


def align_detections(names: Sequence[str],
                     reference: Sequence[torch.Tensor],
                     actual: Sequence[torch.Tensor]):
    """The runtime's detections in PyTorch's order, box for box.

    Each PyTorch box takes the unused runtime box of its class with the
    highest IoU; a pair needs IoU >= 0.99 and scores within 1e-3. Boxes
    left over on both sides are accepted in pairs of equal score (within
    1e-3), of one class (which of two near-equal boxes NMS keeps) or of any
    class at the lowest kept score (which box makes the ``max_per_img``
    cut): ties that the two sides broke differently, frequent with random
    weights. Returns the reference and actual
    outputs restricted to the matched boxes, and the number of tied pairs;
    :class:`ExportError` names a box with no counterpart."""
    from .accuracy import box_iou
    i_dets, i_labels = names.index('dets'), names.index('labels')
    ref_dets, act_dets = reference[i_dets], actual[i_dets]
    ref_labels, act_labels = reference[i_labels], actual[i_labels]
    iou = box_iou(ref_dets[:, :4].double().numpy(),
                  act_dets[:, :4].double().numpy())
    used, pairs, lone = set(), [], []
    for i in range(len(ref_dets)):
        same = [j for j in iou[i].argsort()[::-1]
                if j not in used and act_labels[j] == ref_labels[i]]
        j = same[0] if same else None
        if j is not None and iou[i, j] >= MATCH_IOU and abs(
                ref_dets[i, 4] - act_dets[j, 4]) <= SCORE_TOLERANCE:
            pairs.append((i, int(j)))
            used.add(j)
        else:
            lone.append(i)
    lone_actual = [j for j in range(len(act_dets)) if j not in used]
    lowest = ref_dets[:, 4].min() if len(ref_dets) else 0.
    for i in lone:
        # the max_per_img cut ranks every class together
        at_cut = ref_dets[i, 4] - lowest <= SCORE_TOLERANCE
        tie = next((j for j in lone_actual
                    if (at_cut or act_labels[j] == ref_labels[i])
                    and abs(ref_dets[i, 4] - act_dets[j, 4]) <=
                    SCORE_TOLERANCE), None)
        if tie is None:
            raise ExportError(
                f'ONNX Runtime has no box for PyTorch\'s box {i} (class '
                f'{int(ref_labels[i])}, score {float(ref_dets[i, 4]):.4f}): '
                f'none at IoU >= {MATCH_IOU} with a score within '
                f'{SCORE_TOLERANCE}, and no tie in score.')
        lone_actual.remove(tie)
    keep_ref = torch.tensor([i for i, _ in pairs], dtype=torch.long)
    keep_act = torch.tensor([j for _, j in pairs], dtype=torch.long)
    per_box = [k for k, n in enumerate(names)
               if n in ('dets', 'labels', 'masks', 'mask_logits')]
    reference, actual = list(reference), list(actual)
    for k in per_box:
        reference[k] = reference[k][keep_ref]
        actual[k] = actual[k][keep_act]
    return reference, actual, len(lone)


def compare_outputs(names: Sequence[str], reference: Sequence[torch.Tensor],
                    actual: Sequence[torch.Tensor],
                    input_shape: Sequence[int] = ()) -> Dict[str, float]:
    """Max absolute difference per output (detections matched box for box
    first, see :func:`align_detections`, their count of ties as
    ``tied_boxes``); raises ``ExportError`` when the shapes differ or a
    difference is above the fp32 bounds. Box corners may differ by 1e-4 of
    the input's longer side (``input_shape``, H W) or of the largest
    corner, whichever is more: fp32 sums in another order move them by
    that much in a deep detector, wherever its boxes lie."""
    diffs = {}
    for name, ref, act in zip(names, reference, actual):
        if tuple(ref.shape) != tuple(act.shape):
            raise ExportError(
                f'ONNX Runtime output {name!r} has shape '
                f'{tuple(act.shape)}, PyTorch {tuple(ref.shape)}.')
    if 'dets' in names:
        reference, actual, ties = align_detections(names, reference, actual)
        diffs['tied_boxes'] = ties
    for name, ref, act in zip(names, reference, actual):
        if ref.numel() == 0:
            diffs[name] = 0.
            continue
        diff = (ref.double() - act.double()).abs().max().item()
        diffs[name] = diff
        if name == 'labels':
            bound = 0.
        elif name == 'dets':  # box corners in pixels of the input, scores
            bound = max(SCORE_TOLERANCE, 1e-4 * max(
                [ref.abs().max().item(), *input_shape]))
        elif name == 'masks':
            bound = max(SCORE_TOLERANCE, 1e-4 * ref.abs().max().item())
        else:  # logits, features: relative to their range
            bound = SCORE_TOLERANCE * max(1., ref.abs().max().item())
        if diff > bound:
            raise ExportError(f'ONNX Runtime output {name!r} differs from '
                              f'PyTorch by {diff:.3g} (bound {bound:.3g}).')
    return diffs


def pytorch2onnx(cfg: Config, checkpoint: Optional[str], out: str,
                 shape: Sequence[int] = (800, 1344), dynamic: bool = False,
                 opset: int = DEFAULT_OPSET, part: str = 'model',
                 config_name: str = '', image_file: Optional[str] = None,
                 seed: int = 0) -> dict:
    """Export, check and compare; returns a report (dict) of the file."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise InputError(f'--opset {opset} is not supported: use '
                         f'{MIN_OPSET}-{MAX_OPSET} (RoiAlign with aligned '
                         f'boxes needs {MIN_OPSET}).')
    if len(shape) != 2 or min(shape) < 32 or any(s % 32 for s in shape):
        raise InputError(f'--shape {shape}: give H W, multiples of 32 '
                         f'(the FPN pads inputs to 32).')
    model = prepare_for_export(build_model(cfg, checkpoint))
    if part == 'backbone':
        module, names = model.backbone, [f'feat{i}' for i in range(
            len(model.backbone.out_indices))]
        task = 'backbone'
    else:
        module, names = exportable_model(model)
        task = 'segmentation' if names == ['seg_logits'] else 'detection'
    image = sample_image(model, shape, image_file, seed)
    detector = task == 'detection'

    def graph_inputs(image, image_size) -> tuple:
        """The image, and for a detector the size of the image in it."""
        return (image, torch.tensor(image_size)) if detector else (image, )

    def run_module(inputs):
        with torch.no_grad():
            outputs = module(*inputs)
        return [outputs] if isinstance(outputs, torch.Tensor) \
            else list(outputs)

    inputs = graph_inputs(image, shape)
    reference = run_module(inputs)
    _export(module, inputs, out, names, opset, dynamic)
    num_classes = getattr(model, 'num_classes', None)
    for head in ('roi_head', 'bbox_head', 'decode_head'):
        part_module = getattr(model, head, None)
        if head == 'roi_head' and part_module is not None:
            part_module = part_module.bbox_head
        if part_module is not None and hasattr(part_module, 'num_classes'):
            num_classes = part_module.num_classes
            break
    metadata = dict(
        task=task, config=config_name, num_classes=num_classes,
        classes=class_names(cfg), outputs=list(names),
        input_shape=None if dynamic else list(shape))
    if 'mask_logits' in names:  # RTMDet-Ins: the prototypes' stride
        metadata['mask_stride'] = int(
            model.bbox_head.prior_generator.strides[0][0])
    _finish(out, metadata)
    import onnx
    onnx.checker.check_model(out, full_check=True)
    session = Session(out, 'onnxruntime')
    diffs = compare_outputs(names, reference, session.run(*inputs), shape)
    # A second input, with a smaller image inside the padding: values
    # traced into constants would differ here.
    other = graph_inputs(sample_image(model, shape, None, seed + 1),
                         (shape[0] * 3 // 4, shape[1]))
    compare_outputs(names, run_module(other), session.run(*other), shape)
    params = sum(p.numel() for p in module.parameters())
    size = osp.getsize(out)
    return dict(
        file=out, opset=opset, input_shape=list(shape), dynamic=dynamic,
        outputs={n: list(r.shape) for n, r in zip(names, reference)},
        max_abs_diff=diffs, parameters=params, file_bytes=size,
        bytes_per_parameter=size / params, operators=operator_counts(out))
