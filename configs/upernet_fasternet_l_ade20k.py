_base_ = [
    './_base_/upernet_fasternet_ade20k.py', './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='l',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.l}})),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))
