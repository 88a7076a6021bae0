_base_ = [
    './_base_/upernet_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='m',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.m}})),
    decode_head=dict(in_channels=[144, 288, 576, 1152]),
    auxiliary_head=dict(in_channels=576))
