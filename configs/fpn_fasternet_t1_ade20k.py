_base_ = [
    './_base_/fpn_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='t1',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.t1}})),
    neck=dict(in_channels=[64, 128, 256, 512]))
