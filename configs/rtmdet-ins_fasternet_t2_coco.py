# FasterNet-T2 in RTMDet-Ins-M: its neck and head, pipelines, schedule and
# EMA (paired by backbone parameters and FLOPs: _base_/rtmdet_fasternet.py).
_base_ = [
    'mmdet::rtmdet/rtmdet-ins_m_8xb32-300e_coco.py',
    './_base_/rtmdet_fasternet.py'
]
model = dict(
    data_preprocessor={{_base_.rgb_data_preprocessor}},
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='t2',
        out_indices=(1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint={{_base_.fasternet_checkpoints.t2}})),
    neck=dict(in_channels=[192, 384, 768]))
custom_hooks = [*_base_.custom_hooks, *_base_.fasternet_hooks]
test_cfg = {{_base_.resilient_test_cfg}}

# COCO 2017 in mmdet's layout under $COCO_ROOT (default data/coco/).
data_root = '{{$COCO_ROOT:data/coco/}}'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
