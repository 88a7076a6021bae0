# Cascade Mask R-CNN with a FasterNet backbone on mmdet's backbone-zoo
# recipe, the one ConvNeXt and Swin report: mmdet's own ConvNeXt-T config
# below is the base (box heads with 4 convs and 1 fc, SyncBN, GIoU loss;
# DETR-style multi-scale resize and crop, 36 epochs, lr x0.1 after 27 and 33,
# AdamW lr 2e-4, betas (0.9, 0.999), wd 0.05, total batch 16). Only what
# the backbone swap needs differs; tests/test_zoo_recipes.py compares the
# resolved config with mmdet's key by key.
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_'
    'amp-ms-crop-3x_coco.py',
    './fasternet_parts.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained')))
custom_imports = {{_base_.fasternet_imports}}
custom_hooks = {{_base_.fasternet_hooks}}
test_cfg = {{_base_.resilient_test_cfg}}
optim_wrapper = {{_base_.ms_crop_3x_optim_wrapper}}

# COCO 2017 in mmdet's layout under $COCO_ROOT (default data/coco/).
data_root = '{{$COCO_ROOT:data/coco/}}'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
