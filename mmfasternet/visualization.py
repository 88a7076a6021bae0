"""mmseg's visualizer, drawing on a contiguous copy of the image.

mmseg 1.2.2's ``SegLocalVisualizer._draw_sem_seg`` draws class names with
``cv2.rectangle`` on ``np.zeros_like(image)``, which keeps the memory layout
of its input. ``tools/analysis_tools/browse_dataset.py`` passes the image as
``inputs.permute(1, 2, 0).numpy()``, a non-contiguous view, and OpenCV
refuses it (``Layout of the output array img is incompatible with cv::Mat``;
open-mmlab/mmsegmentation#3405, still open, seen with OpenCV 4.8.1, 4.10,
4.14 and 5.0). The segmentation configs name this subclass instead, so
mmseg's tools work unchanged, without touching mmseg's files.
"""
import numpy as np
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer


@VISUALIZERS.register_module()
class ContiguousSegLocalVisualizer(SegLocalVisualizer):
    """:class:`SegLocalVisualizer` that draws on a C-contiguous image."""

    def add_datasample(self, name, image, *args, **kwargs):
        return super().add_datasample(name, np.ascontiguousarray(image),
                                      *args, **kwargs)
