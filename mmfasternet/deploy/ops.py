"""mmcv's ``nms`` and ``RoIAlign`` as operators the ONNX exporter can write.

mmcv's ops have no ONNX translation in mmcv 2.1 (its symbolics went to
mmdeploy, whose RoIAlign symbolic no longer imports on torch 2.13). Here
each is a ``torch.library`` custom op: in PyTorch it runs mmcv's kernel, so
an exportable forward gives the same numbers as the model it wraps, and
:func:`register_onnx_symbolics` tells the TorchScript exporter to write the
standard ONNX operators ``NonMaxSuppression`` and ``RoiAlign`` (opset 16,
``half_pixel`` = mmcv's ``aligned=True``). No custom-op library is needed by
ONNX Runtime or OpenVINO.
"""
import torch
from torch import Tensor

# RoiAlign with coordinate_transformation_mode (aligned=True) needs 16.
MIN_OPSET = 16


@torch.library.custom_op('mmfasternet::nms', mutates_args=())
def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Indices of the boxes kept by NMS, highest score first (mmcv's
    ``nms`` with ``offset=0``: a box goes when its IoU with a kept box is
    above ``iou_threshold``)."""
    from mmcv.ops import nms as mmcv_nms
    if boxes.numel() == 0:
        return boxes.new_zeros(0, dtype=torch.long)
    _, keep = mmcv_nms(boxes, scores, iou_threshold)
    return keep


@nms.register_fake
def _nms_fake(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    size = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty(size, dtype=torch.long)


@torch.library.custom_op('mmfasternet::multiclass_nms', mutates_args=())
def multiclass_nms(boxes: Tensor, scores: Tensor, iou_threshold: float,
                   score_threshold: float) -> Tensor:
    """NMS within each class of class-specific boxes: ``boxes`` (C, N, 4),
    ``scores`` (C, N); boxes scoring above ``score_threshold`` take part.
    Returns (K, 2) rows (class, box index), class by class, each class's
    boxes highest score first: what ONNX's ``NonMaxSuppression`` returns
    for the classes as its batch. mmdet's ``batched_nms`` does the same
    per-class loop for more than 10,000 boxes; one NMS over all of them
    with class offsets (the other form) costs O(total^2) in ONNX Runtime
    (80,000 boxes for a Mask R-CNN that keeps every score)."""
    rows = []
    for label in range(boxes.size(0)):
        valid = torch.nonzero(scores[label] > score_threshold).squeeze(1)
        keep = valid[nms(boxes[label, valid], scores[label, valid],
                         iou_threshold)]
        rows.append(torch.stack([torch.full_like(keep, label), keep], 1))
    if not rows:
        return boxes.new_zeros(0, 2, dtype=torch.long)
    return torch.cat(rows)


@multiclass_nms.register_fake
def _multiclass_nms_fake(boxes: Tensor, scores: Tensor, iou_threshold: float,
                         score_threshold: float) -> Tensor:
    size = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty(size, 2, dtype=torch.long)


@torch.library.custom_op('mmfasternet::roi_align', mutates_args=())
def roi_align(features: Tensor, rois: Tensor, output_size: int,
              spatial_scale: float, sampling_ratio: int,
              aligned: bool) -> Tensor:
    """mmcv's average RoIAlign of ``rois`` (N, 5: batch index, x1, y1, x2,
    y2) on one feature map; (N, C, output_size, output_size)."""
    from mmcv.ops import roi_align as mmcv_roi_align
    if rois.numel() == 0:
        return features.new_zeros(0, features.size(1), output_size,
                                  output_size)
    return mmcv_roi_align(features, rois, (output_size, output_size),
                          spatial_scale, sampling_ratio, 'avg', aligned)


@roi_align.register_fake
def _roi_align_fake(features: Tensor, rois: Tensor, output_size: int,
                    spatial_scale: float, sampling_ratio: int,
                    aligned: bool) -> Tensor:
    return features.new_empty(rois.size(0), features.size(1), output_size,
                              output_size)


def _nms_symbolic(g, boxes, scores, iou_threshold):
    from torch.onnx import symbolic_helper
    iou = symbolic_helper._maybe_get_const(iou_threshold, 'f')
    boxes = g.op('Unsqueeze', boxes,
                 g.op('Constant', value_t=torch.tensor([0])))
    scores = g.op('Unsqueeze', scores,
                  g.op('Constant', value_t=torch.tensor([0, 1])))
    selected = g.op(
        'NonMaxSuppression', boxes, scores,
        g.op('Constant', value_t=torch.tensor([2**31 - 1])),
        g.op('Constant', value_t=torch.tensor([float(iou)])))
    # selected: (K, 3) = (batch, class, box index), in score order.
    return g.op('Gather', selected,
                g.op('Constant', value_t=torch.tensor(2)), axis_i=1)


def _multiclass_nms_symbolic(g, boxes, scores, iou_threshold,
                             score_threshold):
    from torch.onnx import symbolic_helper
    iou = symbolic_helper._maybe_get_const(iou_threshold, 'f')
    score = symbolic_helper._maybe_get_const(score_threshold, 'f')
    # classes as the batch: boxes (C, N, 4), scores (C, 1, N)
    scores = g.op('Unsqueeze', scores,
                  g.op('Constant', value_t=torch.tensor([1])))
    selected = g.op(
        'NonMaxSuppression', boxes, scores,
        g.op('Constant', value_t=torch.tensor([2**31 - 1])),
        g.op('Constant', value_t=torch.tensor([float(iou)])),
        g.op('Constant', value_t=torch.tensor([float(score)])))
    # selected: (K, 3) = (batch = class, 0, box index)
    return g.op('Gather', selected,
                g.op('Constant', value_t=torch.tensor([0, 2])), axis_i=1)


def _roi_align_symbolic(g, features, rois, output_size, spatial_scale,
                        sampling_ratio, aligned):
    from torch.onnx import symbolic_helper
    size = symbolic_helper._maybe_get_const(output_size, 'i')
    batch_indices = g.op(
        'Cast',
        g.op('Gather', rois, g.op('Constant', value_t=torch.tensor(0)),
             axis_i=1),
        to_i=7)  # int64
    boxes = g.op('Slice', rois, g.op('Constant', value_t=torch.tensor([1])),
                 g.op('Constant', value_t=torch.tensor([5])),
                 g.op('Constant', value_t=torch.tensor([1])))
    aligned = symbolic_helper._maybe_get_const(aligned, 'b')
    return g.op(
        'RoiAlign', features, boxes, batch_indices,
        coordinate_transformation_mode_s='half_pixel'
        if aligned else 'output_half_pixel',
        mode_s='avg',
        output_height_i=size,
        output_width_i=size,
        sampling_ratio_i=symbolic_helper._maybe_get_const(
            sampling_ratio, 'i'),
        spatial_scale_f=symbolic_helper._maybe_get_const(spatial_scale, 'f'))


def register_onnx_symbolics(opset: int) -> None:
    """Let ``torch.onnx.export(..., dynamo=False)`` translate the two ops."""
    from torch.onnx import register_custom_op_symbolic
    register_custom_op_symbolic('mmfasternet::nms', _nms_symbolic, opset)
    register_custom_op_symbolic('mmfasternet::multiclass_nms',
                                _multiclass_nms_symbolic, opset)
    register_custom_op_symbolic('mmfasternet::roi_align',
                                _roi_align_symbolic, opset)


def onnxscript_translations() -> dict:
    """The same two translations for the dynamo-based exporter
    (``torch.onnx.export(..., dynamo=True, custom_translation_table=...)``).
    """
    from onnxscript import opset18 as op

    def nms_onnx(boxes, scores, iou_threshold: float):
        selected = op.NonMaxSuppression(
            op.Unsqueeze(boxes, [0]), op.Unsqueeze(scores, [0, 1]),
            op.Constant(value_ints=[2**31 - 1]),
            op.Constant(value_floats=[iou_threshold]))
        return op.Gather(selected, op.Constant(value_int=2), axis=1)

    def roi_align_onnx(features, rois, output_size: int,
                       spatial_scale: float, sampling_ratio: int,
                       aligned: bool):
        batch_indices = op.Cast(
            op.Gather(rois, op.Constant(value_int=0), axis=1), to=7)
        return op.RoiAlign(
            features, op.Slice(rois, [1], [5], [1]), batch_indices,
            coordinate_transformation_mode='half_pixel'
            if aligned else 'output_half_pixel',
            mode='avg', output_height=output_size, output_width=output_size,
            sampling_ratio=sampling_ratio, spatial_scale=spatial_scale)

    return {torch.ops.mmfasternet.nms.default: nms_onnx,
            torch.ops.mmfasternet.roi_align.default: roi_align_onnx}
