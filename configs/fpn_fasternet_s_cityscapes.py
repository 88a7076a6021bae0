# Semantic FPN with FasterNet-S on Cityscapes: 512x1024 crops, 80k
# iterations, total batch 16 (8 GPUs x 2), AdamW lr 2e-4, wd 1e-4, poly
# decay. FPN rather than UperNet: it is the light head that matches the
# ADE20K FPN recipe above, so the two data sets compare on one design.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py', 'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
    './_base_/fasternet_pretrained.py'
]
custom_imports = dict(imports=['mmfasternet'], allow_failed_imports=False)

crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='s',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint={{_base_.fasternet_checkpoints.s}})),
    neck=dict(in_channels=[128, 256, 512, 1024]))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=80000,
         by_epoch=False)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
