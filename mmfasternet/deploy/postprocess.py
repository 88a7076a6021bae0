"""From the exported graph's outputs to mmdet's results for one image.

The one step that stays outside the graph: boxes back to the original
image's pixels, and each instance's mask probabilities pasted into the
original image and thresholded (mmdet's own ``_do_paste_mask``, as its
``FCNMaskHead`` does it on CPU).
"""
from typing import Optional

import torch
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


def detections_to_instances(dets: Tensor, labels: Tensor,
                            mask_probs: Optional[Tensor], img_meta: dict,
                            mask_threshold: float = 0.5) -> InstanceData:
    """The graph's ``dets`` (N, 5, input pixels), ``labels`` and optional
    ``masks`` as mmdet's ``pred_instances`` in original-image pixels."""
    scale = dets.new_tensor(img_meta['scale_factor']).repeat(2)
    results = InstanceData()
    results.bboxes = dets[:, :4] / scale
    results.scores = dets[:, 4]
    results.labels = labels.long()
    if mask_probs is not None:
        results.masks = paste_masks(mask_probs, results.bboxes,
                                    img_meta['ori_shape'], mask_threshold)
    return results
