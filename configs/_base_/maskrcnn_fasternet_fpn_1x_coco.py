# Mask R-CNN with a FasterNet backbone, the paper's recipe (official
# detection/configs/fasternet): mmdet's 1x schedule (12 epochs, steps at 8
# and 11), AdamW lr 2e-4, weight decay 1e-4, total batch 16 (8 GPUs x 2).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmfasternet'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained')))
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=16)
