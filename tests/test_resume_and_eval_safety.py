"""Exact resume with random state, and evaluation that fails part-way."""
import pickle

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import METRICS
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement

import mmfasternet.engine.hooks  # noqa: F401  registers RNGStateHook
import mmfasternet.engine.loops as loops
from mmfasternet.engine.checkpoint_fit import CheckpointFitHook
from mmfasternet.errors import CheckpointError


class NoisyLine(BaseModel):
    """Draws from torch's generator every step, like proposal sampling."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 1)

    def forward(self, x, y, mode='tensor', data_samples=(), paths=None):
        keep = torch.rand(x.shape[0]) < 0.7  # random subset, as a sampler
        out = self.fc(torch.nn.functional.dropout(x, 0.5, self.training))
        if mode == 'loss':
            return dict(loss=((out - y)[keep]**2).sum() / x.shape[0])
        if any('bad' in p for p in paths):
            raise ValueError('cannot predict this image')
        return [BaseDataElement(metainfo=dict(img_path=p), pred=o)
                for p, o in zip(paths, out)]

    def test_step(self, data):
        paths = [s.img_path for s in data['data_samples']]
        data = self.data_preprocessor(data, False)
        return self(data['x'], data['y'], mode='predict', paths=paths)


class Points(torch.utils.data.Dataset):
    metainfo = dict(classes=('point', ))

    def __init__(self, bad_index=None):
        self.bad_index = bad_index

    def __len__(self):
        return 12

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        name = 'bad.png' if i == self.bad_index else f'{i}.png'
        return dict(x=torch.randn(4, generator=g),
                    y=torch.randn(1, generator=g),
                    data_samples=BaseDataElement(metainfo=dict(img_path=name)))


@METRICS.register_module()
class CountPredictions(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(s['img_path'] for s in data_samples)

    def compute_metrics(self, results):
        return dict(count=len(results))


def collate(batch):
    return dict(x=torch.stack([b['x'] for b in batch]),
                y=torch.stack([b['y'] for b in batch]),
                data_samples=[b['data_samples'] for b in batch])


def train_runner(work_dir, max_iters, resume=False):
    torch.manual_seed(0)  # same initial weights for every run
    return Runner(
        model=NoisyLine(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Points(), batch_size=4, collate_fn=collate,
            sampler=dict(type='InfiniteSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=3, by_epoch=False)),
        custom_hooks=[dict(type='RNGStateHook')],
        randomness=dict(seed=7, deterministic=True),
        resume=resume)


def test_resumed_run_equals_straight_run_bitwise(tmp_path):
    straight = train_runner(tmp_path / 'straight', max_iters=9)
    straight.train()
    interrupted = train_runner(tmp_path / 'resumed', max_iters=6)
    interrupted.train()  # stops after 6 iterations, as if killed then
    resumed = train_runner(tmp_path / 'resumed', max_iters=9, resume=True)
    resumed.train()
    assert resumed.iter == 9
    for (name, a), b in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_without_rng_state_the_resumed_run_drifts(tmp_path):
    """Shows what RNGStateHook is for: the same runs without it differ."""

    def runner(work_dir, max_iters, resume=False):
        r = train_runner(work_dir, max_iters, resume)
        r._hooks = [h for h in r.hooks if type(h).__name__ != 'RNGStateHook']
        return r

    straight = runner(tmp_path / 'a', 9)
    straight.train()
    runner(tmp_path / 'b', 6).train()
    resumed = runner(tmp_path / 'b', 9, resume=True)
    resumed.train()
    assert not torch.equal(straight.model.fc.weight, resumed.model.fc.weight)


def evaluation_runner(work_dir, bad_index=None, model=None, **kwargs):
    return Runner(
        model=model or NoisyLine(),
        work_dir=str(work_dir),
        test_dataloader=dict(
            dataset=Points(bad_index=bad_index), batch_size=2,
            collate_fn=collate,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        test_cfg=dict(type='ResilientTestLoop'),
        test_evaluator=dict(type='CountPredictions'), **kwargs)


def test_failing_image_is_named_and_earlier_results_are_kept(tmp_path):
    runner = evaluation_runner(tmp_path, bad_index=9)
    with pytest.raises(RuntimeError,
                       match=r'failed on 8\.png, bad\.png after 8 of 12 '
                       r'images: ValueError: cannot predict'):
        runner.test()
    with open(tmp_path / 'partial_results.pkl', 'rb') as f:
        saved = pickle.load(f)
    assert saved == [[f'{i}.png' for i in range(8)]]


def test_failure_in_the_first_batch_does_not_blame_its_images(tmp_path):
    with pytest.raises(RuntimeError) as error:
        evaluation_runner(tmp_path, bad_index=0).test()
    message = str(error.value)
    assert 'first batch (bad.png, 1.png)' in message
    assert 'nothing shows that these images are the cause' in message
    assert 'failed on' not in message


def test_each_process_keeps_its_own_partial_results(tmp_path, monkeypatch):
    assert loops.partial_results_path('w') == 'w/partial_results.pkl'
    monkeypatch.setattr(loops, 'get_dist_info', lambda: (1, 2))
    assert loops.partial_results_path('w') == 'w/partial_results_rank1.pkl'
    with pytest.raises(RuntimeError, match='partial_results_rank1.pkl'):
        evaluation_runner(tmp_path, bad_index=9).test()
    assert (tmp_path / 'partial_results_rank1.pkl').is_file()


class WiderLine(NoisyLine):
    """NoisyLine with another input size: its checkpoints do not fit."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 1)
        self.extra = torch.nn.Linear(1, 1)


def test_checkpoint_that_does_not_fit_stops_before_evaluation(tmp_path):
    path = tmp_path / 'wider.pth'
    torch.save({'state_dict': WiderLine().state_dict()}, path)
    runner = evaluation_runner(
        tmp_path, load_from=str(path),
        custom_hooks=[dict(type='CheckpointFitHook')])
    with pytest.raises(CheckpointError) as error:
        runner.test()
    message = str(error.value)
    assert message.startswith(f'checkpoint {path} does not fit the model')
    assert '3 tensors do not match' in message
    assert '1 size mismatch: size mismatch for fc.weight' in message
    assert '2 not in the model: extra.weight; extra.bias' in message
    assert not (tmp_path / 'partial_results.pkl').exists()


def test_checkpoint_that_fits_passes_the_check(tmp_path):
    model = NoisyLine()
    path = tmp_path / 'same.pth'
    torch.save({'state_dict': {f'module.{k}': v for k, v in
                               model.state_dict().items()}}, path)
    runner = evaluation_runner(
        tmp_path, load_from=str(path), custom_hooks=[CheckpointFitHook()])
    assert runner.test() == dict(count=12)
