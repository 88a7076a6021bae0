# Semantic FPN with FasterNet-S on Cityscapes: 512x1024 crops, 80k
# iterations, total batch 16 (8 GPUs x 2), AdamW lr 2e-4, wd 1e-4, poly
# decay. FPN rather than UperNet: it is the light head that matches the
# ADE20K FPN recipe, so the two data sets compare on one design.
_base_ = [
    './_base_/fpn_fasternet.py', 'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/schedules/schedule_80k.py',
    './_base_/fasternet_pretrained.py'
]

crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='s',
        init_cfg=dict(checkpoint={{_base_.fasternet_checkpoints.s}})),
    neck=dict(in_channels=[128, 256, 512, 1024]))
optim_wrapper = {{_base_.adamw_optim_wrapper}}
test_cfg = {{_base_.resilient_test_cfg}}
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=80000,
         by_epoch=False)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
