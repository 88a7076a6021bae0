# Offline demo: FasterNet-T0 Mask R-CNN trained from scratch on the generated
# shapes set (data and schedule: _base_/synthetic_coco_cpu.py). Slim heads
# (64 channels), 200 proposals and 64 RoIs keep a 4-image step quick on 2
# CPU cores (the time of a run is in
# benchmarks/demo_maskrcnn_fasternet_t0.json).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py', '_base_/synthetic_coco_cpu.py'
]
heads = 64

model = dict(
    backbone=dict(_delete_=True, type='FasterNet', arch='t0'),
    neck=dict(in_channels=[40, 80, 160, 320], out_channels=heads),
    rpn_head=dict(in_channels=heads, feat_channels=heads),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=heads),
        bbox_head=dict(in_channels=heads, fc_out_channels=256, num_classes=4),
        mask_roi_extractor=dict(out_channels=heads),
        mask_head=dict(
            in_channels=heads, conv_out_channels=heads, num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200), rcnn=dict(max_per_img=50)))
