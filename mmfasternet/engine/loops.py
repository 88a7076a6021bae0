"""A test loop that keeps what it computed when an image makes it fail."""
import os.path as osp
from typing import List, Optional, Sequence

import mmengine
from mmengine.registry import LOOPS
from mmengine.runner import TestLoop


def _image_paths(data_batch) -> List[str]:
    """Image paths of a batch; test-time augmentation nests the samples."""
    pending = list(data_batch.get('data_samples', [])) if isinstance(
        data_batch, dict) else []
    paths: List[str] = []
    while pending:
        sample = pending.pop(0)
        if isinstance(sample, (list, tuple)):
            pending[:0] = sample
        elif hasattr(sample, 'metainfo'):
            path = sample.metainfo.get('img_path', '?')
            if path not in paths:
                paths.append(path)
    return paths


@LOOPS.register_module()
class ResilientTestLoop(TestLoop):
    """mmengine's ``TestLoop`` that, when evaluation fails part-way, saves the
    results of the images done so far and raises an error naming the image.

    Partial results go to ``<work_dir>/partial_results.pkl`` (one list per
    metric, as the metrics collected them, i.e. what ``--out`` would have
    held for those images); the log keeps everything up to the failure.
    """
    _batch_paths: Optional[List[str]] = None

    def run(self) -> dict:
        try:
            return super().run()
        except Exception as error:
            path = osp.join(self.runner.work_dir, 'partial_results.pkl')
            results = [metric.results for metric in self.evaluator.metrics]
            mmengine.dump(results, path)
            done = len(results[0]) if results else 0
            where = (f'on {", ".join(self._batch_paths)}'
                     if self._batch_paths else 'while loading data')
            raise RuntimeError(
                f'evaluation failed {where} after {done} of '
                f'{len(self.dataloader.dataset)} images: '
                f'{type(error).__name__}: {error}. The results of those '
                f'{done} images are saved in {path}.') from error

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        self._batch_paths = _image_paths(data_batch)
        super().run_iter(idx, data_batch)
        self._batch_paths = None
