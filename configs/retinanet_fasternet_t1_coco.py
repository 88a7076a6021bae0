_base_ = [
    './_base_/retinanet_fasternet_fpn_1x_coco.py',
    './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='t1',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.t1}})),
    neck=dict(in_channels=[64, 128, 256, 512]))
