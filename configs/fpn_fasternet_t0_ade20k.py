_base_ = [
    './_base_/fpn_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='t0',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.t0}})),
    neck=dict(in_channels=[40, 80, 160, 320]))
