_base_ = [
    './_base_/upernet_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='t2',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.t2}})),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
