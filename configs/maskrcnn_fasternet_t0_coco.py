_base_ = [
    './_base_/maskrcnn_fasternet_fpn_1x_coco.py',
    './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='t0',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.t0}})),
    neck=dict(in_channels=[40, 80, 160, 320]))
