"""From the exported graph's outputs to mmdet's results for one image.

The one step that stays outside the graph: boxes back to the original
image's pixels, and each instance's mask probabilities pasted into the
original image and thresholded (mmdet's own ``_do_paste_mask``, as its
``FCNMaskHead`` does it on CPU), or RTMDet-Ins's mask logits upsampled and
thresholded as its head does it.
"""
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor


def paste_masks(mask_probs: Tensor, boxes: Tensor, ori_shape,
                threshold: float) -> Tensor:
    """(N, h, w) probabilities -> (N, H, W) bool masks of ``ori_shape``,
    each pasted into its box (original-image pixels)."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
    height, width = ori_shape[:2]
    masks = torch.zeros(len(mask_probs), height, width, dtype=torch.bool)
    for i in range(len(mask_probs)):
        pasted, region = _do_paste_mask(mask_probs[i:i + 1, None],
                                        boxes[i:i + 1], height, width,
                                        skip_empty=True)
        masks[(slice(i, i + 1), ) + region] = pasted >= threshold
    return masks


def masks_from_logits(mask_logits: Tensor, stride: int, img_meta: dict,
                      threshold: float) -> Tensor:
    """RTMDet-Ins's (N, h, w) mask logits at the prototypes' stride ->
    (N, H, W) bool masks of the original image: the end of mmdet's
    ``RTMDetInsHead._bbox_mask_post_process`` (with ``rescale``), its sizes
    computed as it computes them."""
    ori_h, ori_w = img_meta['ori_shape'][:2]
    if len(mask_logits) == 0:
        return torch.zeros(0, ori_h, ori_w, dtype=torch.bool)
    logits = F.interpolate(mask_logits[None], scale_factor=stride,
                           mode='bilinear')
    scale_factor = [1 / s for s in img_meta['scale_factor']]
    logits = F.interpolate(
        logits, size=[math.ceil(logits.shape[-2] * scale_factor[0]),
                      math.ceil(logits.shape[-1] * scale_factor[1])],
        mode='bilinear', align_corners=False)[..., :ori_h, :ori_w]
    return logits.sigmoid()[0] > threshold


def detections_to_instances(outputs: Dict[str, Tensor], img_meta: dict,
                            mask_threshold: float = 0.5,
                            mask_stride: Optional[int] = None
                            ) -> InstanceData:
    """The graph's outputs by name (``dets`` (N, 5, input pixels),
    ``labels``, and ``masks`` (probabilities in each box) or
    ``mask_logits`` (at ``mask_stride``)) as mmdet's ``pred_instances`` in
    original-image pixels."""
    dets = outputs['dets']
    scale = dets.new_tensor(img_meta['scale_factor']).repeat(2)
    results = InstanceData()
    results.bboxes = dets[:, :4] / scale
    results.scores = dets[:, 4]
    results.labels = outputs['labels'].long()
    if 'masks' in outputs:
        results.masks = paste_masks(outputs['masks'], results.bboxes,
                                    img_meta['ori_shape'], mask_threshold)
    elif 'mask_logits' in outputs:
        results.masks = masks_from_logits(outputs['mask_logits'],
                                          mask_stride, img_meta,
                                          mask_threshold)
    return results
