"""Exportable forwards of whole detectors and segmentors.

Each wraps a built mmdet or mmseg model, reuses its modules (backbone, neck,
heads, anchor generator, box coder) and writes the test-time
post-processing of mmdet 3.3 / mmseg 1.2 as tensor operations that the
ONNX exporter can trace (no Python branches on data): the graph takes one
preprocessed, padded image (1, 3, H, W) and returns

- two-stage and one-stage detectors: ``dets`` (N, 5: x1, y1, x2, y2, score
  in input-image pixels), ``labels`` (N,); Mask R-CNN also ``masks`` (N, h,
  w): the mask head's probability for each instance's class;
- segmentors: ``seg_logits`` (1, C, H, W) at the input size.

Pasting masks into the image and rescaling to the original image happen
outside the graph (:mod:`mmfasternet.deploy.postprocess`).
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.onnx.operators import shape_as_tensor

from ..inference import fasternet_backbones, optimize_for_inference
from ..models.backbones.fasternet import PartialConv3x3
from .ops import multiclass_nms, nms, roi_align


class ExportError(Exception):
    """The model (or one of its parts) cannot be exported; the message
    names the part."""


def prepare_for_export(model: nn.Module) -> nn.Module:
    """Eval mode, BatchNorm folded in every FasterNet backbone, NCHW.

    The partial conv takes its split/concat path: the deploy form's
    copy-and-overwrite writes a slice, which ONNX can only express as
    ScatterND (slower in the runtimes and larger graphs, the bloat of the
    JierunChen/FasterNet issue #16). The values are the same.
    """
    optimize_for_inference(model, deploy=bool(fasternet_backbones(model)))
    for backbone in fasternet_backbones(model):
        backbone.set_channels_last(False)
    for module in model.modules():
        if isinstance(module, PartialConv3x3):
            module.deploy = False
    return model


def batched_nms(boxes: Tensor, scores: Tensor, groups: Tensor,
                iou_threshold: float) -> Tensor:
    """mmcv's ``batched_nms`` (boxes of different groups never suppress
    each other, by the same coordinate offset); kept indices, best first."""
    # The 0 keeps the max defined for an empty set; boxes are clipped >= 0.
    max_coordinate = torch.cat([boxes.reshape(-1), boxes.new_zeros(1)]).max()
    offsets = groups.to(boxes) * (max_coordinate + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def clip_boxes(boxes: Tensor, height: int, width: int) -> Tensor:
    """Clamp (x1, y1, x2, y2) to [0, width] x [0, height] (mmdet's
    ``clip_border``) without in-place writes."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([x1.clamp(0, width), y1.clamp(0, height),
                        x2.clamp(0, width), y2.clamp(0, height)], -1)


def decode_boxes(coder, priors: Tensor, deltas: Tensor, height: int,
                 width: int) -> Tensor:
    """mmdet's ``DeltaXYWHBBoxCoder.decode`` for one image, then clipping.
    """
    from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import \
        delta2bbox
    boxes = delta2bbox(priors, deltas, coder.means, coder.stds, None,
                       16 / 1000, False, coder.add_ctr_clamp, coder.ctr_clamp)
    return clip_boxes(boxes, height, width) if coder.clip_border else boxes


def keep_large_enough(min_size: float, boxes: Tensor, *rest: Tensor):
    """Drop boxes whose width or height is not above ``min_size``."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    keep = torch.nonzero((w > min_size) & (h > min_size)).squeeze(1)
    return (boxes[keep], ) + tuple(t[keep] for t in rest)


def nms_over_levels(cfg, boxes: Sequence[Tensor], scores: Sequence[Tensor],
                    groups: Sequence[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    """The end of mmdet's dense-head ``_bbox_post_process`` for one image:
    the candidates of every level together, those not larger than
    ``min_bbox_size`` dropped, NMS within each group (class, or level for
    RPN), the ``max_per_img`` best kept, best first."""
    boxes, scores, groups = (torch.cat(boxes), torch.cat(scores),
                             torch.cat(groups))
    if cfg.get('min_bbox_size', -1) >= 0:
        boxes, scores, groups = keep_large_enough(cfg.min_bbox_size, boxes,
                                                  scores, groups)
    keep = batched_nms(boxes, scores, groups,
                       cfg.nms.iou_threshold)[:cfg.max_per_img]
    return boxes[keep], scores[keep], groups[keep]


def best_scores(scores: Tensor, count: int) -> Tuple[Tensor, Tensor]:
    """The ``count`` highest of ``scores`` (1-D) and their indices, best
    first; all of them, sorted, when ``count`` <= 0. In the graph this is a
    TopK of ``count`` with k computed from the input (fewer scores give
    fewer rows), not a sort of everything and a slice: ONNX Runtime spent
    64% of a RetinaNet's time sorting 11.5 million (anchor, class) scores
    in full."""
    if count <= 0:
        return scores.sort(descending=True)
    k = torch.clamp(shape_as_tensor(scores)[0], max=count)
    return scores.topk(k)


def _image_size(image: Tensor) -> Tuple[int, int]:
    return image.shape[2], image.shape[3]


def _priors(head, feats: Sequence[Tensor]) -> List[Tensor]:
    return head.prior_generator.grid_priors(
        [f.shape[-2:] for f in feats], dtype=feats[0].dtype,
        device=feats[0].device)


class ExportableDetector(nn.Module):
    """Common parts: backbone + neck features and the one-image check."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def features(self, image: Tensor) -> Tuple[Tensor, ...]:
        return self.detector.extract_feat(image)


class ExportableRetinaNet(ExportableDetector):
    """mmdet's ``BaseDenseHead.predict_by_feat`` for sigmoid anchor heads
    (RetinaNet): per level the ``nms_pre`` best (anchor, class) scores above
    ``score_thr``, decoding, class-wise NMS, ``max_per_img``."""

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor]:
        head = self.detector.bbox_head
        cfg = head.test_cfg
        height, width = _image_size(image)
        feats = self.features(image)
        cls_scores, bbox_preds = head(feats)
        priors = _priors(head, cls_scores)
        nms_pre = cfg.get('nms_pre', -1)
        all_boxes, all_scores, all_labels = [], [], []
        for cls_score, bbox_pred, level_priors in zip(cls_scores, bbox_preds,
                                                      priors):
            # (anchor, class) pairs flattened row-major, as mmdet's
            # filter_scores_and_topk sees them.
            scores = cls_score[0].permute(1, 2, 0).reshape(-1).sigmoid()
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            valid = torch.nonzero(
                scores > cfg.get('score_thr', 0)).squeeze(1)
            scores, order = best_scores(scores[valid], nms_pre)
            pair = valid[order]
            anchor_index = torch.div(pair, head.cls_out_channels,
                                     rounding_mode='floor')
            labels = pair - anchor_index * head.cls_out_channels
            # Decode every anchor, then pick: mmdet's decoder branches on
            # an empty input, which a trace would freeze.
            all_boxes.append(decode_boxes(head.bbox_coder, level_priors,
                                          deltas, height,
                                          width)[anchor_index])
            all_scores.append(scores)
            all_labels.append(labels)
        boxes, scores, labels = nms_over_levels(cfg, all_boxes, all_scores,
                                                all_labels)
        return torch.cat([boxes, scores[:, None]], 1), labels


class ExportableTwoStage(ExportableDetector):
    """Faster/Mask R-CNN: mmdet's ``RPNHead`` proposals, multi-level RoI
    assignment and RoIAlign, ``BBoxHead`` decoding with ``multiclass_nms``,
    and, with a mask head, each instance's mask probabilities."""

    def proposals(self, feats: Sequence[Tensor], height: int,
                  width: int) -> Tensor:
        head = self.detector.rpn_head
        cfg = self.detector.test_cfg.rpn
        cls_scores, bbox_preds = head(feats)
        priors = _priors(head, cls_scores)
        nms_pre = cfg.get('nms_pre', -1)
        all_boxes, all_scores, all_levels = [], [], []
        for level, (cls_score, bbox_pred, level_priors) in enumerate(
                zip(cls_scores, bbox_preds, priors)):
            scores = cls_score[0].permute(1, 2, 0).reshape(-1)
            scores = scores.sigmoid() if head.use_sigmoid_cls else \
                cls_score[0].permute(1, 2, 0).reshape(-1, 2).softmax(-1)[:, 0]
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            scores, order = best_scores(scores, nms_pre)
            all_boxes.append(
                decode_boxes(head.bbox_coder, level_priors[order],
                             deltas[order], height, width))
            all_scores.append(scores)
            all_levels.append(torch.full_like(order, level))
        return nms_over_levels(cfg, all_boxes, all_scores, all_levels)[0]

    @staticmethod
    def roi_features(extractor, feats: Sequence[Tensor],
                     boxes: Tensor) -> Tensor:
        """mmdet's ``SingleRoIExtractor``: each box pooled on the level its
        scale maps to; the result keeps the order of ``boxes``."""
        layer = extractor.roi_layers[0]
        rois = torch.cat([torch.zeros_like(boxes[:, :1]), boxes], 1)
        num_levels = len(feats)
        levels = extractor.map_roi_levels(rois, num_levels)
        pooled, order = [], []
        for level in range(num_levels):
            index = torch.nonzero(levels == level).squeeze(1)
            pooled.append(roi_align(
                feats[level], rois[index], layer.output_size[0],
                float(extractor.roi_layers[level].spatial_scale),
                int(layer.sampling_ratio), bool(layer.aligned)))
            order.append(index)
        return torch.cat(pooled)[torch.argsort(torch.cat(order))]

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        roi_head = self.detector.roi_head
        cfg = roi_head.test_cfg
        height, width = _image_size(image)
        feats = self.features(image)
        proposals = self.proposals(feats, height, width)
        bbox_feats = self.roi_features(
            roi_head.bbox_roi_extractor,
            feats[:roi_head.bbox_roi_extractor.num_inputs], proposals)
        bbox_head = roi_head.bbox_head
        cls_score, bbox_pred = bbox_head(bbox_feats)
        scores = F.softmax(cls_score, dim=-1)[:, :-1]
        num_classes = scores.size(1)
        per_class = 1 if bbox_head.reg_class_agnostic else num_classes
        priors = proposals[:, None].expand(-1, per_class, 4).reshape(-1, 4)
        boxes = decode_boxes(bbox_head.bbox_coder, priors,
                             bbox_pred.reshape(-1, 4), height,
                             width).reshape(-1, per_class, 4)
        boxes = boxes.expand(-1, num_classes, 4)
        # mmdet's multiclass_nms: NMS within each class over the boxes
        # scoring above score_thr, then the best max_per_img of all classes
        per_class_boxes = boxes.transpose(0, 1)  # (classes, proposals, 4)
        per_class_scores = scores.transpose(0, 1)
        kept = multiclass_nms(per_class_boxes, per_class_scores,
                              float(cfg.nms.iou_threshold),
                              float(cfg.score_thr))
        labels, index = kept[:, 0], kept[:, 1]
        scores = per_class_scores[labels, index]
        order = torch.argsort(scores, descending=True)[:cfg.max_per_img]
        labels, scores = labels[order], scores[order]
        boxes = per_class_boxes[labels, index[order]]
        dets = torch.cat([boxes, scores[:, None]], 1)
        if not roi_head.with_mask:
            return dets, labels
        mask_feats = self.roi_features(
            roi_head.mask_roi_extractor,
            feats[:roi_head.mask_roi_extractor.num_inputs], boxes)
        mask_preds = roi_head.mask_head(mask_feats)
        if roi_head.mask_head.class_agnostic:
            masks = mask_preds[:, 0]
        else:
            index = labels[:, None, None, None].expand(
                -1, 1, mask_preds.size(2), mask_preds.size(3))
            masks = mask_preds.gather(1, index)[:, 0]
        return dets, labels, masks.sigmoid()


class ExportableSegmentor(nn.Module):
    """mmseg's ``EncoderDecoder`` in ``whole`` mode: the decode head's
    logits resized to the input size."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, image: Tensor) -> Tensor:
        from mmseg.models.utils import resize
        head = self.segmentor.decode_head
        logits = head(self.segmentor.extract_feat(image))
        return resize(logits, size=image.shape[2:], mode='bilinear',
                      align_corners=head.align_corners)


def exportable_model(model: nn.Module) -> Tuple[nn.Module, List[str]]:
    """The exportable forward for ``model`` and its output names.

    Raises :class:`ExportError` naming the part that has none.
    """
    from mmdet.models.dense_heads import AnchorHead, RPNHead
    from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
    from mmdet.models.roi_heads import StandardRoIHead
    from mmseg.models.segmentors import EncoderDecoder
    if isinstance(model, EncoderDecoder):
        mode = model.test_cfg.get('mode', 'whole')
        if mode != 'whole' or type(model) is not EncoderDecoder:
            raise ExportError(
                f'{type(model).__name__} with test mode {mode!r}: export '
                f'supports EncoderDecoder in whole mode.')
        return ExportableSegmentor(model).eval(), ['seg_logits']
    if isinstance(model, TwoStageDetector):
        for part, allowed in ((model.rpn_head, RPNHead),
                              (model.roi_head, StandardRoIHead)):
            if type(part) is not allowed:
                raise ExportError(
                    f'{type(part).__name__} has no exportable forward here '
                    f'(supported: {allowed.__name__}).')
        outputs = ['dets', 'labels']
        if model.roi_head.with_mask:
            outputs.append('masks')
        return ExportableTwoStage(model).eval(), outputs
    if isinstance(model, SingleStageDetector):
        head = model.bbox_head
        if not isinstance(head, AnchorHead) or not head.use_sigmoid_cls or \
                head.bbox_coder.encode_size != 4 or \
                type(head).__name__ != 'RetinaHead':
            raise ExportError(
                f'{type(head).__name__} has no exportable forward here '
                f'(supported one-stage head: RetinaHead).')
        return ExportableRetinaNet(model).eval(), ['dets', 'labels']
    raise ExportError(f'{type(model).__name__}: export supports mmdet '
                      f'two-stage (Mask/Faster R-CNN) and RetinaNet '
                      f'detectors and mmseg EncoderDecoder segmentors.')
