_base_ = [
    './_base_/fpn_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='t2',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.t2}})),
    neck=dict(in_channels=[96, 192, 384, 768]))
