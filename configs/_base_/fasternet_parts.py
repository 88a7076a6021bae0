# What every FasterNet config shares, mmdet and mmseg alike, as named parts.
# Declared in the configs rather than added by our tools, so that mmdet's and
# mmseg's own tools/train.py and tools/test.py (and mim) keep every
# safeguard:
# - fasternet_imports (custom_imports): registers FasterNet, RNGStateHook
#   and ResilientTestLoop;
# - fasternet_hooks (custom_hooks): RNGStateHook, exact resume (torch's and
#   CUDA's generators saved with each checkpoint, restored on --resume);
# - resilient_test_cfg (test_cfg): ResilientTestLoop, a failing image is
#   named and the results so far kept.
# fasternet_common.py puts the first two in place. A config whose mmdet base
# defines custom_imports or custom_hooks itself (mmdet's ConvNeXt and RTMDet
# configs) inherits this file instead and takes them over by name, since
# mmengine refuses a key that two bases of one config both define.
fasternet_imports = dict(
    imports=['mmfasternet', 'mmfasternet.engine'],
    allow_failed_imports=False)
# The segmentation configs also draw with ContiguousSegLocalVisualizer
# (mmfasternet/visualization.py, which needs mmseg).
fasternet_seg_imports = dict(
    imports=[
        'mmfasternet', 'mmfasternet.engine', 'mmfasternet.visualization'
    ],
    allow_failed_imports=False)
fasternet_hooks = [dict(type='RNGStateHook')]

# mmdet's and mmseg's schedules define test_cfg and optim_wrapper too, so the
# task bases take these two over by name:
#   test_cfg = {{_base_.resilient_test_cfg}}
#   optim_wrapper = {{_base_.adamw_optim_wrapper}}
resilient_test_cfg = dict(type='ResilientTestLoop')
# The paper's detection recipe (AdamW lr 2e-4, weight decay 1e-4), also the
# Semantic FPN one (PoolFormer's).
adamw_optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=1e-4))

# mmdet's backbone-zoo recipes (ConvNeXt's 3x configs) build AdamW with
# LearningRateDecayOptimizerConstructor, a layer-wise lr decay keyed to
# ConvNeXt's module names (stages.{stage}.{block}, downsample_layers); for any
# other backbone class it raises NotImplementedError. FasterNet's names
# (stages.0-6: blocks and merging layers in turn) have no such layers, so the
# recipe's AdamW (lr, betas and weight decay inherited unchanged) is built by
# mmengine's default constructor, keeping the other half of what mmdet's did:
# no weight decay on norms and biases. The recipe trains in fp16
# (AmpOptimWrapper, dynamic loss scale): tools/train.py --amp, or mmdet's
# own, sets exactly that; it stays out of the config so that the configs run
# on CPUs too, as every other config here does.
ms_crop_3x_optim_wrapper = dict(
    type='OptimWrapper',
    constructor='DefaultOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.,
                       bias_decay_mult=0.))
