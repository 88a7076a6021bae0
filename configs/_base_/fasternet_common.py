# What every FasterNet config shares (fasternet_parts.py), with
# custom_imports and custom_hooks in place, for the task bases whose mmdet or
# mmseg base defines neither.
_base_ = './fasternet_parts.py'
custom_imports = {{_base_.fasternet_imports}}
custom_hooks = {{_base_.fasternet_hooks}}
