# UperNet (with an auxiliary FCN head) and a FasterNet backbone on ADE20K,
# the 160k recipe Swin and ConvNeXt report: 512x512 crops, AdamW lr 6e-5,
# wd 0.01 (none on norms), linear warm-up for 1,500 iterations then linear
# (poly, power 1) decay, total batch 16 (8 GPUs x 2).
_base_ = [
    'mmseg::_base_/models/upernet_r50.py', 'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py', './fasternet_common.py'
]

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained')),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000,
         by_epoch=False)
]
test_cfg = {{_base_.resilient_test_cfg}}
# mmseg's visualizer, made to draw on non-contiguous images too (its
# browse_dataset.py passes one): mmfasternet/visualization.py.
visualizer = dict(type='ContiguousSegLocalVisualizer')
custom_imports = {{_base_.fasternet_seg_imports}}
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(enable=False, base_batch_size=16)
