_base_ = [
    './_base_/maskrcnn_fasternet_fpn_ms-crop-3x_coco.py',
    './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='m',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.m}})),
    neck=dict(in_channels=[144, 288, 576, 1152]))
