# What the FasterNet RTMDet and RTMDet-Ins configs share. Each of them
# inherits mmdet's own RTMDet config of the size it pairs with (pipelines
# and their switch at epoch 280, EMA, AdamW lr 4e-3 with cosine decay, 300
# epochs, total batch 256, neck and head widths) beside this file, and
# swaps the backbone as mmdet's rtmdet_l_convnext_b_4xb32-100e_coco.py
# does: FasterNet with out_indices=(1, 2, 3), the neck's in_channels
# (2e, 4e, 8e), the data preprocessor. Since the mmdet base defines
# custom_hooks, test_cfg and the data keys, this file gives the rest by name
# and each config puts it in place (mmengine refuses a key that two bases of
# one config both define).
#
# Sizes: each FasterNet variant takes the RTMDet size whose CSPNeXt backbone
# it matches in parameters and FLOPs at 640x640 (t0: tiny, t1: s, t2: m,
# s: l); the counts are in docs/detection.md ("RTMDet").
_base_ = ['./fasternet_parts.py', './fasternet_pretrained.py']

custom_imports = {{_base_.fasternet_imports}}

# FasterNet's ImageNet weights were trained on RGB images normalised with
# ImageNet's mean and std (the official code; the other FasterNet configs
# feed the same); mmdet's RTMDet feeds BGR, as its CSPNeXt weights expect.
rgb_data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)
