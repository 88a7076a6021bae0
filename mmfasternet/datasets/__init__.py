from .synthetic import (ADE_CLASSES, SHAPE_CLASSES, make_ade_dataset,
                        make_coco_dataset)

__all__ = [
    'ADE_CLASSES', 'SHAPE_CLASSES', 'make_ade_dataset', 'make_coco_dataset'
]
