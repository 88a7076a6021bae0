# Flagship: Mask R-CNN with FasterNet-S, the paper's 1x recipe. The official
# model reaches 39.9 box AP / 36.9 mask AP on COCO val2017
# (JierunChen/FasterNet).
_base_ = [
    './_base_/maskrcnn_fasternet_fpn_1x_coco.py',
    './_base_/fasternet_pretrained.py'
]
model = dict(
    backbone=dict(
        arch='s',
        drop_path_rate=0.15,
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.s}})),
    neck=dict(in_channels=[128, 256, 512, 1024]))
