# Benchmark peer: ResNet-50 in the Cascade Mask R-CNN of
# configs/cascade-maskrcnn_fasternet_s_ms-crop-3x_coco.py (mmdet's ConvNeXt
# 3x recipe: 4conv1fc box heads, GIoU), so that only the backbone differs
# from the FasterNet rows. mmdet's own R50 cascade has lighter shared2fc
# heads, and its ConvNeXt-T cascade needs mmpretrain, which the stack does
# not install. Timed with random weights: speed does not need them.
_base_ = '../../configs/cascade-maskrcnn_fasternet_s_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=None),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
