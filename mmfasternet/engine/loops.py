"""A test loop that keeps what it computed when evaluation fails part-way."""
import os.path as osp
from typing import List, Optional, Sequence

import mmengine
from mmengine.dist import get_dist_info
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


def partial_results_path(work_dir: str) -> str:
    """``partial_results.pkl``; in a run of several processes each keeps its
    own share, ``partial_results_rank{R}.pkl``."""
    rank, world_size = get_dist_info()
    name = 'partial_results.pkl' if world_size == 1 else \
        f'partial_results_rank{rank}.pkl'
    return osp.join(work_dir, name)


@LOOPS.register_module()
class ResilientTestLoop(TestLoop):
    """mmengine's ``TestLoop`` that, when evaluation fails part-way, saves the
    results of the images done so far and raises an error that says where.

    Partial results go to :func:`partial_results_path` (one list per metric,
    as the metrics collected them, i.e. what ``--out`` would have held for
    those images); the log keeps everything up to the failure. The error
    names the images of the failing batch as the cause only when earlier
    batches went through the same model: a failure in the first batch
    points at the model, config or checkpoint, not at an image.
    """
    _batch_paths: Optional[List[str]] = None
    _batches_done = 0

    def run(self) -> dict:
        self._batches_done = 0
        try:
            return super().run()
        except Exception as error:
            path = partial_results_path(self.runner.work_dir)
            results = [metric.results for metric in self.evaluator.metrics]
            mmengine.dump(results, path)
            done = len(results[0]) if results else 0
            raise RuntimeError(
                f'evaluation failed {self._where()} after {done} of '
                f'{len(self.dataloader.dataset)} images: '
                f'{type(error).__name__}: {error}. The results of those '
                f'{done} images are saved in {path}.') from error

    def _where(self) -> str:
        if not self._batch_paths:
            return 'while loading data'
        images = ', '.join(self._batch_paths)
        if self._batches_done == 0:
            return (f'in its first batch ({images}); no image had gone '
                    f'through yet, so nothing shows that these images are '
                    f'the cause: check the model, config and checkpoint '
                    f'first')
        return f'on {images}'

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        self._batch_paths = _image_paths(data_batch)
        super().run_iter(idx, data_batch)
        self._batch_paths = None
        self._batches_done += 1
