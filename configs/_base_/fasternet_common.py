# What every FasterNet config shares, mmdet and mmseg alike. Declared here
# rather than added by our tools, so that mmdet's and mmseg's own
# tools/train.py and tools/test.py (and mim) keep every safeguard:
# - custom_imports: registers FasterNet, RNGStateHook and ResilientTestLoop;
# - RNGStateHook: exact resume (torch's and CUDA's generators saved with each
#   checkpoint, restored on --resume);
# - ResilientTestLoop: a failing image is named and the results so far kept.
custom_imports = dict(
    imports=['mmfasternet', 'mmfasternet.engine'],
    allow_failed_imports=False)
custom_hooks = [dict(type='RNGStateHook')]

# mmdet's and mmseg's schedules define test_cfg and optim_wrapper too, and
# mmengine refuses a key that two bases of one config both define, so the
# task bases take these two over by name:
#   test_cfg = {{_base_.resilient_test_cfg}}
#   optim_wrapper = {{_base_.adamw_optim_wrapper}}
resilient_test_cfg = dict(type='ResilientTestLoop')
# The paper's detection recipe (AdamW lr 2e-4, weight decay 1e-4), also the
# Semantic FPN one (PoolFormer's).
adamw_optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, weight_decay=1e-4))
