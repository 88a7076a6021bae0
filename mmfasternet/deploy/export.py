"""Exportable forwards of whole detectors and segmentors.

Each wraps a built mmdet or mmseg model, reuses its modules (backbone, neck,
heads, anchor generator, box coder) and writes the test-time
post-processing of mmdet 3.3 / mmseg 1.2 as tensor operations that the
ONNX exporter can trace (no Python branches on data): the graph takes one
preprocessed, padded image (1, 3, H, W), detectors also ``image_size``
(2,): the height and width of the image inside the padding, which boxes are
clipped to as mmdet clips them to ``img_shape``; and returns

- two-stage and one-stage detectors (Faster/Mask R-CNN, Cascade (Mask)
  R-CNN, RetinaNet, RTMDet, RTMDet-Ins): ``dets`` (N, 5: x1, y1, x2, y2,
  score in input-image pixels), ``labels`` (N,); Mask R-CNN and Cascade Mask
  R-CNN also ``masks`` (N, h, w): the mask head's probability for each
  instance's class; RTMDet-Ins ``mask_logits`` (N, H/8, W/8): each
  instance's mask logits at the prototypes' stride;
- segmentors: ``seg_logits`` (1, C, H, W) at the input size.

Pasting masks into the image (or upsampling RTMDet-Ins's logits), and
rescaling to the original image, happen outside the graph
(:mod:`mmfasternet.deploy.postprocess`).
"""
from typing import List, Optional, Sequence, Tuple

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


def clip_boxes(boxes: Tensor, height: Tensor, width: Tensor) -> Tensor:
    """Clamp (x1, y1, x2, y2) to [0, width] x [0, height] (mmdet's
    ``clip_border``; the bounds are 0-d tensors, inputs of the graph)
    without in-place writes."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([torch.minimum(x1.clamp(min=0), width),
                        torch.minimum(y1.clamp(min=0), height),
                        torch.minimum(x2.clamp(min=0), width),
                        torch.minimum(y2.clamp(min=0), height)], -1)


def decode_boxes(coder, priors: Tensor, deltas: Tensor, height: Tensor,
                 width: Tensor) -> Tensor:
    """mmdet's ``DeltaXYWHBBoxCoder.decode`` for one image, then clipping.
    """
    from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import \
        delta2bbox
    boxes = delta2bbox(priors, deltas, coder.means, coder.stds, None,
                       16 / 1000, False, coder.add_ctr_clamp, coder.ctr_clamp)
    return clip_boxes(boxes, height, width) if coder.clip_border else boxes


def points_to_boxes(coder, points: Tensor, distances: Tensor, height: Tensor,
                    width: Tensor) -> Tensor:
    """mmdet's ``DistancePointBBoxCoder.decode`` (``distance2bbox``): the
    (left, top, right, bottom) distances around each (x, y), then
    clipping."""
    x, y = points.unbind(-1)
    left, top, right, bottom = distances.unbind(-1)
    boxes = torch.stack([x - left, y - top, x + right, y + bottom], -1)
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


def classwise_nms(boxes: Tensor, scores: Tensor, labels: Tensor,
                  num_classes: int, iou_threshold: float) -> Tensor:
    """Indices kept by NMS within each class, best first: mmcv's
    ``batched_nms`` in the form it takes above 10,000 boxes (a loop over
    the classes), as one ``NonMaxSuppression`` with the classes as its
    batch. The class-offset form costs O(boxes^2) in ONNX Runtime, and
    RTMDet keeps up to 30,000 candidates per level (``nms_pre``). Scores
    must be above 0 (they are sigmoids above ``score_thr``)."""
    classes = torch.arange(num_classes, device=labels.device)
    per_class_scores = torch.where(labels[None] == classes[:, None],
                                   scores[None], scores.new_zeros(()))
    kept = multiclass_nms(boxes[None].expand(num_classes, -1, 4),
                          per_class_scores, float(iou_threshold), 0.)
    index = kept[:, 1]
    return index[torch.argsort(scores[index], descending=True)]


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


def best_pairs(cls_score: Tensor, num_classes: int, cfg,
               count: int) -> Tuple[Tensor, Tensor, Tensor]:
    """mmdet's ``filter_scores_and_topk`` for one level of a sigmoid head
    (1, priors x classes, H, W): the ``count`` best (prior, class) scores
    above ``score_thr``, best first, with their prior indices and labels
    (pairs flattened row-major, as mmdet flattens them)."""
    scores = cls_score[0].permute(1, 2, 0).reshape(-1).sigmoid()
    valid = torch.nonzero(scores > cfg.get('score_thr', 0)).squeeze(1)
    scores, order = best_scores(scores[valid], count)
    pair = valid[order]
    prior = torch.div(pair, num_classes, rounding_mode='floor')
    return scores, prior, pair - prior * num_classes


def _image_size(image: Tensor, image_size: Optional[Tensor]
                ) -> Tuple[Tensor, Tensor]:
    """(height, width) of the image inside the padded input, as 0-d float
    tensors: the graph's second input ``image_size`` (mmdet's
    ``img_shape``, which its box coders clip to), else the input's size."""
    if image_size is None:
        image_size = torch.tensor(image.shape[2:])
    image_size = image_size.to(image.dtype)
    return image_size[0], image_size[1]


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

    def forward(self, image: Tensor, image_size: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        head = self.detector.bbox_head
        cfg = head.test_cfg
        height, width = _image_size(image, image_size)
        feats = self.features(image)
        cls_scores, bbox_preds = head(feats)
        priors = _priors(head, cls_scores)
        nms_pre = cfg.get('nms_pre', -1)
        all_boxes, all_scores, all_labels = [], [], []
        for cls_score, bbox_pred, level_priors in zip(cls_scores, bbox_preds,
                                                      priors):
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            scores, anchor_index, labels = best_pairs(
                cls_score, head.cls_out_channels, cfg, nms_pre)
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


class ExportableRTMDet(ExportableDetector):
    """mmdet's RTMDet (``RTMDetHead`` and ``RTMDetSepBNHead``): the
    ``BaseDenseHead.predict_by_feat`` of a sigmoid point head. Per level the
    ``nms_pre`` best (point, class) scores above ``score_thr``, the
    distances decoded around each point (``DistancePointBBoxCoder``, boxes
    clipped to the input), then NMS within each class
    (:func:`classwise_nms`) and the ``max_per_img`` best."""

    def candidates(self, height: Tensor, width: Tensor,
                   cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                   per_point: Sequence[Tensor] = ()) -> Tuple[Tensor, ...]:
        """The kept detections: boxes, scores, labels, each point's prior
        (x, y, stride x, stride y) and its row of each ``per_point`` level
        tensor (1, C, H, W)."""
        head = self.detector.bbox_head
        cfg = head.test_cfg
        priors = head.prior_generator.grid_priors(
            [f.shape[-2:] for f in cls_scores], dtype=cls_scores[0].dtype,
            device=cls_scores[0].device, with_stride=True)
        nms_pre = cfg.get('nms_pre', -1)
        columns = [[] for _ in range(4 + len(per_point))]
        for level, (cls_score, bbox_pred, level_priors) in enumerate(
                zip(cls_scores, bbox_preds, priors)):
            scores, point, labels = best_pairs(
                cls_score, head.cls_out_channels, cfg, nms_pre)
            distances = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)[point]
            level_priors = level_priors[point]
            columns[0].append(points_to_boxes(head.bbox_coder,
                                              level_priors[:, :2], distances,
                                              height, width))
            columns[1].append(scores)
            columns[2].append(labels)
            columns[3].append(level_priors)
            for k, tensor in enumerate(per_point):
                rows = tensor[level][0].permute(1, 2, 0)
                columns[4 + k].append(rows.reshape(-1, rows.size(-1))[point])
        columns = [torch.cat(column) for column in columns]
        if cfg.get('min_bbox_size', -1) >= 0:
            columns = keep_large_enough(cfg.min_bbox_size, *columns)
        keep = classwise_nms(*columns[:3], head.cls_out_channels,
                             cfg.nms.iou_threshold)[:cfg.max_per_img]
        return tuple(column[keep] for column in columns)

    def forward(self, image: Tensor, image_size: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        feats = self.features(image)
        cls_scores, bbox_preds = self.detector.bbox_head(feats)[:2]
        boxes, scores, labels, _ = self.candidates(
            *_image_size(image, image_size), cls_scores, bbox_preds)
        return torch.cat([boxes, scores[:, None]], 1), labels


class ExportableRTMDetIns(ExportableRTMDet):
    """mmdet's ``RTMDetInsHead.predict_by_feat``: RTMDet's detections, then
    each kept instance's mask logits from its dynamic kernels (three 1x1
    convolutions over the prototype features and the coordinates relative to
    its point), at the prototypes' resolution (stride 8 of the input);
    ``mask_logits`` (N, H/8, W/8). Upsampling to the image and thresholding
    happen outside the graph, as mmdet does them
    (:func:`~.postprocess.masks_from_logits`): 100 full-size masks would be
    a 160 MB output at 640x640."""

    def forward(self, image: Tensor, image_size: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor, Tensor]:
        head = self.detector.bbox_head
        feats = self.features(image)
        cls_scores, bbox_preds, kernel_preds, mask_feat = head(feats)
        boxes, scores, labels, priors, kernels = self.candidates(
            *_image_size(image, image_size), cls_scores, bbox_preds,
            [kernel_preds])
        logits = self.mask_logits(mask_feat, kernels, priors)
        return torch.cat([boxes, scores[:, None]], 1), labels, logits

    def mask_logits(self, mask_feat: Tensor, kernels: Tensor,
                    priors: Tensor) -> Tensor:
        """mmdet's ``_mask_predict_by_feat_single`` with each instance's
        grouped 1x1 convolution written as a batched matrix product (ONNX's
        Conv needs a constant group count)."""
        head = self.detector.bbox_head
        height, width = mask_feat.shape[-2:]
        coord = head.prior_generator.single_level_grid_priors(
            (height, width), level_idx=0, device=mask_feat.device)
        points = priors[:, None, :2]
        strides = priors[:, 2, None, None]
        relative = (points - coord[None]).permute(0, 2, 1) / (strides * 8)
        prototypes = mask_feat.reshape(1, mask_feat.size(1), -1)
        x = torch.cat([relative, prototypes.expand(priors.size(0), -1, -1)],
                      1)
        splits = torch.split(kernels, head.weight_nums + head.bias_nums, 1)
        num_layers = len(head.weight_nums)
        for i in range(num_layers):
            out_channels = head.dyconv_channels if i < num_layers - 1 else 1
            weight = splits[i].reshape(-1, out_channels,
                                       head.weight_nums[i] // out_channels)
            x = torch.bmm(weight, x) + splits[num_layers + i][..., None]
            if i < num_layers - 1:
                x = F.relu(x)
        return x.reshape(-1, height, width)


class ExportableTwoStage(ExportableDetector):
    """Faster/Mask R-CNN: mmdet's ``RPNHead`` proposals, multi-level RoI
    assignment and RoIAlign, ``BBoxHead`` decoding with ``multiclass_nms``,
    and, with a mask head, each instance's mask probabilities."""

    def proposals(self, feats: Sequence[Tensor], height: Tensor,
                  width: Tensor) -> Tensor:
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

    def detections(self, bbox_head, cfg, rois: Tensor, cls_score: Tensor,
                   bbox_pred: Tensor, height: Tensor, width: Tensor
                   ) -> Tuple[Tensor, Tensor]:
        """``BBoxHead.predict_by_feat`` for one image: softmax scores, boxes
        decoded from ``rois`` (N, 4), mmdet's ``multiclass_nms``; returns
        ``dets`` (K, 5) and ``labels``, best first."""
        scores = F.softmax(cls_score, dim=-1)[:, :-1]
        num_classes = scores.size(1)
        per_class = 1 if bbox_head.reg_class_agnostic else num_classes
        priors = rois[:, None].expand(-1, per_class, 4).reshape(-1, 4)
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
        return torch.cat([boxes, scores[:, None]], 1), labels

    @staticmethod
    def of_labels(mask_probs: Tensor, labels: Tensor,
                  class_agnostic: bool) -> Tensor:
        """Each instance's mask (N, h, w) of its class from (N, C, h, w)."""
        if class_agnostic:
            return mask_probs[:, 0]
        index = labels[:, None, None, None].expand(
            -1, 1, mask_probs.size(2), mask_probs.size(3))
        return mask_probs.gather(1, index)[:, 0]

    def forward(self, image: Tensor, image_size: Optional[Tensor] = None
                ) -> Tuple[Tensor, ...]:
        roi_head = self.detector.roi_head
        height, width = _image_size(image, image_size)
        feats = self.features(image)
        proposals = self.proposals(feats, height, width)
        extractor = roi_head.bbox_roi_extractor
        cls_score, bbox_pred = roi_head.bbox_head(self.roi_features(
            extractor, feats[:extractor.num_inputs], proposals))
        dets, labels = self.detections(roi_head.bbox_head, roi_head.test_cfg,
                                       proposals, cls_score, bbox_pred,
                                       height, width)
        if not roi_head.with_mask:
            return dets, labels
        extractor = roi_head.mask_roi_extractor
        mask_preds = roi_head.mask_head(self.roi_features(
            extractor, feats[:extractor.num_inputs], dets[:, :4]))
        masks = self.of_labels(mask_preds, labels,
                               roi_head.mask_head.class_agnostic)
        return dets, labels, masks.sigmoid()


class ExportableCascade(ExportableTwoStage):
    """Cascade (Mask) R-CNN: mmdet's ``CascadeRoIHead.predict``. Each
    stage's box head runs on the boxes the stage before regressed (by the
    class it scored best, ``regress_by_class``); the classification logits
    of all stages are averaged and decoded with the last stage's deltas;
    each stage's mask head runs on the detections and the mask
    probabilities are averaged (``merge_aug_masks``)."""

    def forward(self, image: Tensor, image_size: Optional[Tensor] = None
                ) -> Tuple[Tensor, ...]:
        roi_head = self.detector.roi_head
        height, width = _image_size(image, image_size)
        feats = self.features(image)
        rois = self.proposals(feats, height, width)
        stage_scores = []
        for stage in range(roi_head.num_stages):
            extractor = roi_head.bbox_roi_extractor[stage]
            bbox_head = roi_head.bbox_head[stage]
            cls_score, bbox_pred = bbox_head(self.roi_features(
                extractor, feats[:extractor.num_inputs], rois))
            stage_scores.append(cls_score)
            if stage < roi_head.num_stages - 1:
                rois = self.regress_by_class(bbox_head, rois, cls_score,
                                             bbox_pred, height, width)
        cls_score = torch.stack(stage_scores).mean(0)
        dets, labels = self.detections(roi_head.bbox_head[-1],
                                       roi_head.test_cfg, rois, cls_score,
                                       bbox_pred, height, width)
        if not roi_head.with_mask:
            return dets, labels
        stage_masks = []
        for stage in range(roi_head.num_stages):
            extractor = roi_head.mask_roi_extractor[stage]
            stage_masks.append(roi_head.mask_head[stage](self.roi_features(
                extractor, feats[:extractor.num_inputs],
                dets[:, :4])).sigmoid())
        masks = torch.stack(stage_masks).mean(0)
        return dets, labels, self.of_labels(
            masks, labels, roi_head.mask_head[-1].class_agnostic)

    @staticmethod
    def regress_by_class(bbox_head, rois: Tensor, cls_score: Tensor,
                         bbox_pred: Tensor, height: Tensor,
                         width: Tensor) -> Tensor:
        """mmdet's ``BBoxHead.regress_by_class``: each box moved by the
        deltas of its best-scoring class (not background)."""
        if not bbox_head.reg_class_agnostic:
            label = cls_score[:, :-1].argmax(1)
            index = label[:, None, None].expand(-1, 1, 4)
            bbox_pred = bbox_pred.reshape(
                -1, bbox_head.num_classes, 4).gather(1, index)[:, 0]
        return decode_boxes(bbox_head.bbox_coder, rois, bbox_pred, height,
                            width)


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


def _check_cascade(roi_head) -> None:
    for stage, head in enumerate(roi_head.bbox_head):
        if head.custom_activation or head.bbox_coder.encode_size != 4:
            raise ExportError(
                f'{type(head).__name__} of cascade stage {stage}: export '
                f'supports heads with softmax scores and 4 box deltas.')


def exportable_model(model: nn.Module) -> Tuple[nn.Module, List[str]]:
    """The exportable forward for ``model`` and its output names.

    Raises :class:`ExportError` naming the part that has none.
    """
    from mmdet.models.dense_heads import AnchorHead, RPNHead
    from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
    from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
    from mmseg.models.segmentors import EncoderDecoder
    if isinstance(model, EncoderDecoder):
        mode = model.test_cfg.get('mode', 'whole')
        if mode != 'whole' or type(model) is not EncoderDecoder:
            raise ExportError(
                f'{type(model).__name__} with test mode {mode!r}: export '
                f'supports EncoderDecoder in whole mode.')
        return ExportableSegmentor(model).eval(), ['seg_logits']
    if isinstance(model, TwoStageDetector):
        roi_heads = {StandardRoIHead: ExportableTwoStage,
                     CascadeRoIHead: ExportableCascade}
        exportable = roi_heads.get(type(model.roi_head))
        if type(model.rpn_head) is not RPNHead or exportable is None:
            part = model.rpn_head if type(model.rpn_head) is not RPNHead \
                else model.roi_head
            raise ExportError(
                f'{type(part).__name__} has no exportable forward here '
                f'(supported: RPNHead with StandardRoIHead or '
                f'CascadeRoIHead).')
        if exportable is ExportableCascade:
            _check_cascade(model.roi_head)
        outputs = ['dets', 'labels']
        if model.roi_head.with_mask:
            outputs.append('masks')
        return exportable(model).eval(), outputs
    if isinstance(model, SingleStageDetector):
        head = model.bbox_head
        if type(head).__name__ in ('RTMDetHead', 'RTMDetSepBNHead'):
            return ExportableRTMDet(model).eval(), ['dets', 'labels']
        if type(head).__name__ in ('RTMDetInsHead', 'RTMDetInsSepBNHead'):
            return ExportableRTMDetIns(model).eval(), [
                'dets', 'labels', 'mask_logits']
        if not isinstance(head, AnchorHead) or not head.use_sigmoid_cls or \
                head.bbox_coder.encode_size != 4 or \
                type(head).__name__ != 'RetinaHead':
            raise ExportError(
                f'{type(head).__name__} has no exportable forward here '
                f'(supported one-stage heads: RetinaHead, RTMDetHead, '
                f'RTMDetSepBNHead, RTMDetInsHead, RTMDetInsSepBNHead).')
        return ExportableRetinaNet(model).eval(), ['dets', 'labels']
    raise ExportError(f'{type(model).__name__}: export supports mmdet '
                      f'two-stage (Faster/Mask R-CNN, Cascade) RetinaNet and '
                      f'RTMDet(-Ins) detectors and mmseg EncoderDecoder '
                      f'segmentors.')
