# Benchmark peer: ConvNeXt-T in the Cascade Mask R-CNN of
# configs/cascade-maskrcnn_fasternet_s_ms-crop-3x_coco.py, with the backbone
# of mmdet's own cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-
# crop-3x_coco.py (the recipe the FasterNet cascade configs are built on), so
# that only the backbone differs from the FasterNet rows. ConvNeXt comes from
# mmpretrain, which imports torchvision; torchvision does not import beside
# the stack's torch 2.13.0, so this config runs only in an environment that
# has mmpretrain (benchmarks/README.md names the one it was timed in). Timed
# with random weights: speed does not need them.
_base_ = '../../configs/cascade-maskrcnn_fasternet_s_ms-crop-3x_coco.py'
custom_imports = dict(
    imports=['mmfasternet', 'mmfasternet.engine', 'mmpretrain.models'],
    allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='tiny',
        out_indices=[0, 1, 2, 3],
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        gap_before_final_norm=False,
        init_cfg=None),
    neck=dict(in_channels=[96, 192, 384, 768]))
