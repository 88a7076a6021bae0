# Semantic FPN with a FasterNet backbone on ADE20K, the recipe PoolFormer and
# other efficient backbones report (mmseg ships it as
# poolformer/fpn_poolformer_s12_8xb4-40k_ade20k-512x512.py): 512x512 crops,
# 40k iterations, AdamW lr 2e-4, wd 1e-4, poly decay, total batch 32
# (8 GPUs x 4). mmseg's ADE20K base brings the pipelines, TTA included.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py', 'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py'
]
custom_imports = dict(imports=['mmfasternet'], allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained')),
    decode_head=dict(num_classes=150))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000,
         by_epoch=False)
]
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(enable=False, base_batch_size=32)
