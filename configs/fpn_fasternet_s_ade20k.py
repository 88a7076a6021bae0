_base_ = [
    './_base_/fpn_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='s',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.s}})),
    neck=dict(in_channels=[128, 256, 512, 1024]))
