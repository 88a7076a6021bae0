# RetinaNet with a FasterNet backbone. Recipe: the Mask R-CNN one above (1x,
# AdamW lr 2e-4, wd 1e-4, batch 16), which is also what PoolFormer reports
# for RetinaNet, so results compare with the efficient-backbone literature.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './fasternet_common.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained')))
optim_wrapper = {{_base_.adamw_optim_wrapper}}
test_cfg = {{_base_.resilient_test_cfg}}
auto_scale_lr = dict(enable=False, base_batch_size=16)

# COCO 2017 in mmdet's layout under $COCO_ROOT (default data/coco/).
data_root = '{{$COCO_ROOT:data/coco/}}'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
