# Offline demo: FasterNet-T0 RetinaNet trained from scratch on the generated
# shapes set (data and schedule: _base_/synthetic_coco_cpu.py; the masks it
# loads are unused), the one-stage detector the deployment checks export
# and score (docs/deployment.md). Slim heads (64 channels).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::retinanet/retinanet_tta.py', '_base_/synthetic_coco_cpu.py'
]
heads = 64

model = dict(
    backbone=dict(_delete_=True, type='FasterNet', arch='t0'),
    neck=dict(in_channels=[40, 80, 160, 320], out_channels=heads),
    bbox_head=dict(
        num_classes=4, in_channels=heads, feat_channels=heads,
        stacked_convs=2),
    test_cfg=dict(nms_pre=500, max_per_img=50))
val_evaluator = dict(metric='bbox')
test_evaluator = val_evaluator
