_base_ = [
    './_base_/cascade-maskrcnn_fasternet_fpn_ms-crop-3x_coco.py',
    './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='s',
        drop_path_rate=0.15,
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.s}})),
    neck=dict(in_channels=[128, 256, 512, 1024]))
