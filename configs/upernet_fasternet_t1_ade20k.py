_base_ = [
    './_base_/upernet_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='t1',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.t1}})),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
