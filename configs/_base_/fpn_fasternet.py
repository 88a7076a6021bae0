# Semantic FPN with a FasterNet backbone, data set and schedule left to the
# configs that inherit it (ADE20K below, Cityscapes).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py', 'mmseg::_base_/default_runtime.py',
    './fasternet_common.py'
]

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained')))
# mmseg's visualizer, made to draw on non-contiguous images too (its
# browse_dataset.py passes one): mmfasternet/visualization.py.
visualizer = dict(type='ContiguousSegLocalVisualizer')
custom_imports = {{_base_.fasternet_seg_imports}}
