_base_ = [
    './_base_/cascade-maskrcnn_fasternet_fpn_ms-crop-3x_coco.py',
    './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='l',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.l}})),
    neck=dict(in_channels=[192, 384, 768, 1536]))
