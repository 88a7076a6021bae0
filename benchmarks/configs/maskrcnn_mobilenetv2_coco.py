# Benchmark peer: Mask R-CNN with mmdet's MobileNetV2, a depthwise-convolution
# backbone (mmdet ships MobileNetV2 but no Mask R-CNN config for it). Timed
# with random weights: speed does not need them.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        _delete_=True, type='MobileNetV2', out_indices=(1, 2, 4, 7)),
    neck=dict(in_channels=[24, 32, 96, 1280]))
