# Offline demo: RTMDet-Ins with FasterNet-T0
# (configs/rtmdet-ins_fasternet_t0_coco.py: RTMDet-Ins-Tiny's neck and head)
# trained from scratch on the generated shapes set, boxes and masks. Data and
# schedule as in rtmdet_fasternet_t0_synthetic.py, restated (each inherits its
# own COCO config, and mmengine refuses a key that two bases define), with
# masks loaded and 1,200 iterations (0.7 s each on 2 cores, against 0.5 for
# RTMDet). What differs from the COCO recipe, for 2 CPU cores and 256x256
# images: plain resize + flip instead of mosaic, mix-up and the 640x640
# random resize (and so no pipeline switch), no pretrained weights, batch 8
# with an iteration-based schedule, 4 classes. EMA stays.
_base_ = '../rtmdet-ins_fasternet_t0_coco.py'

data_root = 'data/synthetic_coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star'),
    palette=[(220, 40, 40), (40, 180, 60), (50, 80, 230), (230, 200, 30)])
size = (256, 256)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
         poly2mask=False),
    dict(type='Resize', scale=size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=size, pad_val=dict(img=(114, 114, 114))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=size, keep_ratio=True),
    dict(type='Pad', size=size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

model = dict(
    backbone=dict(init_cfg=None),
    bbox_head=dict(num_classes=4),
    test_cfg=dict(nms_pre=1000, max_per_img=100))

max_iters = 1200
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
    val_interval=max_iters)
# RTMDet's AdamW lr 4e-3 is for a batch of 256 (8 GPUs x 32); batch 8 here.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', eta_min=5e-5, begin=max_iters // 2,
         end=max_iters, T_max=max_iters // 2, by_epoch=False)
]
custom_hooks = [
    dict(
        type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
        update_buffers=True, priority=49),
    dict(type='RNGStateHook')
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(base_batch_size=8)
randomness = dict(seed=0)
