"""Where the time of one forward goes: wall time of a detector's or
segmentor's parts (backbone, neck, RPN with its proposals, RoI extraction,
bbox and mask heads with their post-processing), recorded with
``time.perf_counter`` around the parts' calls while the model runs."""
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Tuple

import torch
import torch.nn as nn

# (part name, module path, method). The parts do not overlap: a method
# listed here calls none of the others. ``forward`` is timed with hooks,
# any other method by wrapping it on the instance for the duration.
PARTS: Tuple[Tuple[str, str, str], ...] = (
    ('backbone', 'backbone', 'forward'),
    ('neck', 'neck', 'forward'),
    ('rpn_head+proposals', 'rpn_head', 'predict'),
    ('bbox_roi_extractor', 'roi_head.bbox_roi_extractor', 'forward'),
    ('bbox_head', 'roi_head.bbox_head', 'forward'),
    ('bbox_post(nms)', 'roi_head.bbox_head', 'predict_by_feat'),
    ('mask_roi_extractor', 'roi_head.mask_roi_extractor', 'forward'),
    ('mask_head', 'roi_head.mask_head', 'forward'),
    ('mask_post(paste)', 'roi_head.mask_head', 'predict_by_feat'),
    # one-stage detectors and segmentors: head forward and post-processing
    ('bbox_head+post', 'bbox_head', 'predict'),
    ('decode_head+resize', 'decode_head', 'predict'),
)
OTHER = 'other'


def _find(model: nn.Module, path: str):
    module = model
    for name in path.split('.'):
        module = getattr(module, name, None)
        if not isinstance(module, nn.Module):
            return None
    return module


class PartTimer:
    """Accumulates milliseconds per part; :meth:`attach` instruments a model.
    """

    def __init__(self, synchronize: Callable[[], None] = lambda: None):
        self.synchronize = synchronize
        self.current: Dict[str, float] = defaultdict(float)

    def _clock(self) -> float:
        self.synchronize()
        return time.perf_counter()

    def parts_of(self, model: nn.Module) -> List[str]:
        return [name for name, path, method in PARTS
                if _find(model, path) is not None
                and hasattr(_find(model, path), method)]

    @contextmanager
    def attach(self, model: nn.Module) -> Iterator[List[str]]:
        """Instrument ``model`` inside the ``with`` block; yields the names
        of the parts found. Everything is removed on exit."""
        handles, wrapped = [], []
        starts: Dict[str, float] = {}
        for name in self.parts_of(model):
            _, path, method = next(p for p in PARTS if p[0] == name)
            module = _find(model, path)
            if method == 'forward':
                handles.append(module.register_forward_pre_hook(
                    lambda m, a, n=name: starts.__setitem__(n, self._clock())))
                handles.append(module.register_forward_hook(
                    lambda m, a, o, n=name: self._add(n, starts.pop(n))))
            else:
                original = getattr(module, method)

                def timed(*args, _original=original, _name=name, **kwargs):
                    start = self._clock()
                    result = _original(*args, **kwargs)
                    self._add(_name, start)
                    return result

                setattr(module, method, timed)
                wrapped.append((module, method))
        try:
            yield self.parts_of(model)
        finally:
            for handle in handles:
                handle.remove()
            for module, method in wrapped:
                delattr(module, method)  # the class's method shows again

    def _add(self, name: str, start: float) -> None:
        self.current[name] += (self._clock() - start) * 1e3

    def take(self, total_ms: float) -> Dict[str, float]:
        """The parts of the run that just ended, with ``other`` = the rest
        of ``total_ms``; resets for the next run."""
        parts = dict(self.current)
        parts[OTHER] = total_ms - sum(parts.values())
        self.current = defaultdict(float)
        return parts


def cuda_synchronizer(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device.startswith('cuda') \
        else (lambda: None)
