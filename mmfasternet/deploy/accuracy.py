"""PyTorch vs exported model on a config's test set: the config's metrics
from each, and a per-image comparison of the predictions.

Detection: every PyTorch box is matched to the backend box of the same
class with the highest IoU; the report gives the share matched at IoU >=
0.99, the lowest IoU and the largest score difference among matched boxes,
and the boxes either side has without a match (IoU < 0.5). Segmentation:
the share of pixels whose labels agree, per image.
"""
import glob
import os.path as osp
import pickle
from typing import Dict, List

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each box in ``a`` (N, 4) with each in ``b`` (M, 4)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def compare_detections(reference: List[dict], actual: List[dict]) -> Dict:
    """Per-image matching of two mmdet prediction lists (``--out`` .pkl).
    """
    ious, score_diffs = [], []
    unmatched_ref = unmatched_act = total = 0
    for ref, act in zip(reference, actual):
        ref, act = ref['pred_instances'], act['pred_instances']
        rb, ab = np.asarray(ref['bboxes']), np.asarray(act['bboxes'])
        rl, al = np.asarray(ref['labels']), np.asarray(act['labels'])
        rs, as_ = np.asarray(ref['scores']), np.asarray(act['scores'])
        total += len(rb)
        used = np.zeros(len(ab), bool)
        overlap = box_iou(rb, ab) if len(rb) and len(ab) else \
            np.zeros((len(rb), len(ab)))
        for i in np.argsort(-rs):
            candidates = np.where((al == rl[i]) & ~used)[0]
            if not len(candidates):
                unmatched_ref += 1
                continue
            j = candidates[np.argmax(overlap[i, candidates])]
            if overlap[i, j] < 0.5:
                unmatched_ref += 1
                continue
            used[j] = True
            ious.append(overlap[i, j])
            score_diffs.append(abs(rs[i] - as_[j]))
        unmatched_act += int((~used).sum())
    ious = np.asarray(ious)
    return dict(
        images=len(reference), pytorch_boxes=total,
        matched_iou_ge_0_99=float((ious >= 0.99).mean()) if len(ious)
        else None,
        min_matched_iou=float(ious.min()) if len(ious) else None,
        max_score_diff=float(max(score_diffs)) if score_diffs else None,
        unmatched_pytorch_boxes=unmatched_ref,
        unmatched_backend_boxes=unmatched_act)


def compare_label_maps(reference_dir: str, actual_dir: str) -> Dict:
    """Share of agreeing pixels per image between two ``--out`` folders."""
    from mmcv import imread
    agreement = []
    for path in sorted(glob.glob(osp.join(reference_dir, '*.png'))):
        ref = imread(path, 'unchanged')
        act = imread(osp.join(actual_dir, osp.basename(path)), 'unchanged')
        agreement.append(float((ref == act).mean()))
    return dict(images=len(agreement),
                min_pixel_agreement=min(agreement) if agreement else None,
                mean_pixel_agreement=float(np.mean(agreement))
                if agreement else None)


def compare_predictions(reference: str, actual: str) -> Dict:
    if reference.endswith('.pkl'):
        with open(reference, 'rb') as f:
            ref = pickle.load(f)
        with open(actual, 'rb') as f:
            act = pickle.load(f)
        return compare_detections(ref, act)
    return compare_label_maps(reference, actual)


def metric_differences(reference: Dict[str, float],
                       actual: Dict[str, float]) -> Dict[str, float]:
    """Backend minus PyTorch, in points (x100) for the mAP/mIoU metrics."""
    diffs = {}
    for key, value in reference.items():
        if key in actual:
            scale = 1. if 'mIoU' in key or 'aAcc' in key or 'mAcc' in key \
                else 100.
            diffs[key] = round((actual[key] - value) * scale, 4)
    return diffs
