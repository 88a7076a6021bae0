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
import mmfasternet.engine.loops  # noqa: F401  registers ResilientTestLoop


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


def test_failing_image_is_named_and_earlier_results_are_kept(tmp_path):
    runner = Runner(
        model=NoisyLine(),
        work_dir=str(tmp_path),
        test_dataloader=dict(
            dataset=Points(bad_index=9), batch_size=2, collate_fn=collate,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        test_cfg=dict(type='ResilientTestLoop'),
        test_evaluator=dict(type='CountPredictions'))
    with pytest.raises(RuntimeError,
                       match=r'failed on 8\.png, bad\.png after 8 of 12 '
                       r'images: ValueError: cannot predict'):
        runner.test()
    with open(tmp_path / 'partial_results.pkl', 'rb') as f:
        saved = pickle.load(f)
    assert saved == [[f'{i}.png' for i in range(8)]]
