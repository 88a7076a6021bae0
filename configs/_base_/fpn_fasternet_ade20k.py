# Semantic FPN with a FasterNet backbone on ADE20K, the recipe PoolFormer and
# other efficient backbones report (mmseg ships it as
# poolformer/fpn_poolformer_s12_8xb4-40k_ade20k-512x512.py): 512x512 crops,
# 40k iterations, AdamW lr 2e-4, wd 1e-4, poly decay, total batch 32
# (8 GPUs x 4). mmseg's ADE20K base brings the pipelines, TTA included.
_base_ = [
    './fpn_fasternet.py', 'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/schedules/schedule_40k.py'
]

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size), decode_head=dict(num_classes=150))
optim_wrapper = {{_base_.adamw_optim_wrapper}}
test_cfg = {{_base_.resilient_test_cfg}}
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000,
         by_epoch=False)
]
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(enable=False, base_batch_size=32)
