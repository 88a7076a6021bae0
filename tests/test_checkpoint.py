"""Safe checkpoint loading and official FasterNet checkpoints."""
import argparse
import functools
import os
import stat
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from mmfasternet import FasterNet
from mmfasternet.checkpoint import (allowed_checkpoint_globals,
                                    atomic_write_bytes, strip_wrapper_prefix)
from mmfasternet.errors import CheckpointError

DEPTHS = {'t0': (1, 2, 8, 2), 's': (1, 2, 13, 2)}
EMBED_DIMS = {'t0': 40, 's': 128}


def official_state_dict(arch: str, classifier: bool) -> 'OrderedDict':
    """Key names and shapes of the official models, written from their spec.

    ``classifier=True`` gives the ImageNet model (classifier head, no output
    norms); ``False`` the detection backbone (output norms ``norm0/2/4/6``).
    """
    embed, depths = EMBED_DIMS[arch], DEPTHS[arch]
    generator = torch.Generator().manual_seed(1)
    state = OrderedDict()

    def conv(name, *shape):
        state[name + '.weight'] = torch.randn(*shape, generator=generator)

    def bn(name, channels):
        state[name + '.weight'] = torch.rand(channels, generator=generator)
        state[name + '.bias'] = torch.randn(channels, generator=generator)
        state[name + '.running_mean'] = torch.randn(
            channels, generator=generator)
        state[name + '.running_var'] = torch.rand(
            channels, generator=generator) + .5
        state[name + '.num_batches_tracked'] = torch.tensor(100)

    conv('patch_embed.proj', embed, 3, 4, 4)
    bn('patch_embed.norm', embed)
    for stage, depth in enumerate(depths):
        c = embed * 2**stage
        for block in range(depth):
            prefix = f'stages.{2 * stage}.blocks.{block}'
            conv(f'{prefix}.spatial_mixing.partial_conv3', c // 4, c // 4, 3,
                 3)
            conv(f'{prefix}.mlp.0', 2 * c, c, 1, 1)
            bn(f'{prefix}.mlp.1', 2 * c)
            conv(f'{prefix}.mlp.3', c, 2 * c, 1, 1)
        if stage < 3:
            conv(f'stages.{2 * stage + 1}.reduction', 2 * c, c, 2, 2)
            bn(f'stages.{2 * stage + 1}.norm', 2 * c)
    if classifier:
        conv('avgpool_pre_head.1', 1280, 8 * embed, 1, 1)
        state['head.weight'] = torch.randn(1000, 1280, generator=generator)
        state['head.bias'] = torch.randn(1000, generator=generator)
    else:
        for stage in range(4):
            bn(f'norm{2 * stage}', embed * 2**stage)
    return state


def pretrained(arch: str, path) -> FasterNet:
    model = FasterNet(
        arch=arch, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    return model


@pytest.mark.parametrize('arch', ['t0', 's'])
def test_backbone_has_the_official_key_names_and_shapes(arch):
    official = official_state_dict(arch, classifier=False)
    ours = FasterNet(arch=arch).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        k: tuple(v.shape) for k, v in official.items()}


def test_official_imagenet_checkpoint_loads_and_skips_classifier(tmp_path):
    official = official_state_dict('t0', classifier=True)
    path = tmp_path / 'fasternet_t0-epoch=281-val_acc1=71.9180.pth'
    torch.save(official, path)
    model = pretrained('t0', path)
    state = model.state_dict()
    body = [k for k in official if not k.startswith(('head.', 'avgpool'))]
    assert body
    for key in body:
        assert torch.equal(state[key], official[key]), key
    # The output norms are not in a classifier: they keep their init.
    assert torch.equal(model.norm0.weight, torch.ones(40))


def test_official_mask_rcnn_checkpoint_loads_backbone_keys(tmp_path):
    backbone = official_state_dict('t0', classifier=False)
    state_dict = {f'backbone.{k}': v for k, v in backbone.items()}
    state_dict['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 40, 1, 1)
    path = tmp_path / 'mask_rcnn_fasternet_t0_fpn_1x_coco.pth'
    torch.save(dict(meta=dict(epoch=12), state_dict=state_dict), path)
    model = pretrained('t0', path)
    for key, value in backbone.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_of_another_model_reports_matched_keys(tmp_path):
    resnet = ResNet(depth=18)
    path = tmp_path / 'resnet18.pth'
    torch.save(resnet.state_dict(), path)
    with pytest.raises(ValueError, match=r'resnet18\.pth.*0 of \d+ backbone '
                       r'keys matched.*bn1'):
        pretrained('t0', path)


def test_checkpoint_of_another_variant_is_refused(tmp_path):
    path = tmp_path / 'fasternet_s.pth'
    torch.save(official_state_dict('s', classifier=True), path)
    with pytest.raises(ValueError, match='fasternet_s.pth'):
        pretrained('t0', path)


def test_missing_pretrained_file_names_path_and_fix(tmp_path):
    missing = tmp_path / 'nowhere.pth'
    with pytest.raises(FileNotFoundError,
                       match=r'nowhere\.pth.*init_cfg\.checkpoint=PATH'):
        pretrained('t0', missing)


class _RunsCode:
    marker = ''

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_checkpoint_carrying_code_is_refused_and_code_never_runs(tmp_path):
    marker = tmp_path / 'code-ran'
    _RunsCode.marker = str(marker)
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _RunsCode()}, path)
    with pytest.raises(CheckpointError, match=r'refused to load .*evil\.pth'):
        _load_checkpoint(str(path))
    with pytest.raises(CheckpointError, match='evil.pth'):
        pretrained('t0', path)
    assert not marker.exists()


def test_getattr_is_allowed_only_for_history_buffer_statistics(tmp_path):
    # HistoryBuffer itself is allowed, but getattr may not walk from it to
    # anything but its statistics (here: __init__, a way towards globals).
    payload = (b'\x80\x02c__builtin__\ngetattr\nq\x00'
               b'cmmengine.logging.history_buffer\nHistoryBuffer\nq\x01'
               b'X\x08\x00\x00\x00__init__q\x02\x86q\x03Rq\x04.')
    path = tmp_path / 'getattr.pth'
    path.write_bytes(payload)
    with pytest.raises(CheckpointError,
                       match=r'getattr\.pth.*__init__.*not allowed'):
        _load_checkpoint(str(path))


def test_truncated_checkpoint_is_reported_with_its_name(tmp_path):
    path = tmp_path / 'truncated.pth'
    torch.save(FasterNet(arch='t0').state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=r'truncated\.pth.*truncated'):
        _load_checkpoint(str(path))


def test_numpy_1x_module_names_load(tmp_path):
    import numpy as np
    path = tmp_path / 'numpy1.pth'
    torch.save({'array': np.arange(3.), 'scalar': np.float64(2.5)}, path,
               _use_new_zipfile_serialization=False, pickle_protocol=2)
    data = path.read_bytes()
    assert b'numpy._core.multiarray' in data
    path.write_bytes(data.replace(b'numpy._core.multiarray',
                                  b'numpy.core.multiarray'))
    loaded = _load_checkpoint(str(path))
    assert loaded['array'].tolist() == [0., 1., 2.]
    assert loaded['scalar'] == 2.5


class _Line(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, x, y, mode='tensor'):
        out = self.fc(x)
        return dict(loss=((out - y)**2).mean()) if mode == 'loss' else out


class _Points(torch.utils.data.Dataset):

    def __len__(self):
        return 16

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(x=torch.randn(2, generator=g),
                    y=torch.randn(1, generator=g))


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=_Line(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_Points(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-2)),
        param_scheduler=dict(type='MultiStepLR', milestones=[3],
                             by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=2, by_epoch=False)),
        randomness=dict(seed=0),
        # Runners built in the same second share a message hub unless
        # their experiments are named apart.
        experiment_name=f'{Path(work_dir).name}-{max_iters}',
        resume=resume)


def test_mmengine_checkpoint_resumes_with_weights_only(tmp_path):
    _runner(tmp_path, max_iters=4).train()
    checkpoint = _load_checkpoint(str(tmp_path / 'iter_4.pth'))
    losses = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(losses, HistoryBuffer)
    values, counts = losses.data
    assert len(values) == 4 and counts.tolist() == [1] * 4
    # The statistics come back through the restricted getattr.
    assert losses.statistics('mean') == pytest.approx(values.mean())
    resumed = _runner(tmp_path, max_iters=6, resume=True)
    resumed.train()
    assert resumed.iter == 6
    assert (tmp_path / 'iter_6.pth').exists()


def test_disk_full_during_save_keeps_previous_checkpoint(tmp_path,
                                                         monkeypatch):
    import errno

    import mmfasternet.checkpoint as checkpoint_module
    runner = _runner(tmp_path, max_iters=4)
    real_fsync = os.fsync
    saves = []

    def fsync_until_disk_full(fd):
        saves.append(fd)
        if len(saves) > 2:  # iter_2.pth and its folder went through
            raise OSError(errno.ENOSPC, 'No space left on device')
        real_fsync(fd)

    monkeypatch.setattr(checkpoint_module.os, 'fsync', fsync_until_disk_full)
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_2.pth']
    assert not list(tmp_path.glob('.*.tmp'))
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')
    assert _load_checkpoint(str(tmp_path / 'iter_2.pth'))['meta']['iter'] == 2


def _name(entry) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


def test_loader_allows_only_history_buffer_and_numpy_types():
    names = {_name(entry) for entry in allowed_checkpoint_globals()}
    numpy_dtypes = {n for n in names if n.startswith('numpy.dtypes.')}
    assert all(n.endswith('DType') for n in numpy_dtypes)
    assert names - numpy_dtypes == {
        'mmengine.logging.history_buffer.HistoryBuffer',
        'builtins.getattr', '__builtin__.getattr',
        'numpy.ndarray', 'numpy.dtype',
        'numpy.core.multiarray._reconstruct',
        'numpy._core.multiarray._reconstruct',
        'numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar'}


@pytest.mark.parametrize('payload', [
    argparse.Namespace(lr=0.1), Path('/etc/passwd'),
    functools.partial(print, 'hi'), ConfigDict(type='FasterNet')
], ids=['Namespace', 'Path', 'partial', 'ConfigDict'])
def test_other_harmless_looking_objects_are_refused(tmp_path, payload):
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': {}, 'meta': payload}, path)
    with pytest.raises(CheckpointError, match=r'refused to load .*other\.pth'):
        _load_checkpoint(str(path))


@pytest.mark.parametrize('umask', [0o022, 0o002, 0o077])
def test_atomic_write_gives_the_mode_of_a_plain_write(tmp_path, umask):
    previous = os.umask(umask)
    try:
        plain, atomic = tmp_path / 'plain', tmp_path / 'atomic'
        with open(plain, 'wb') as f:
            f.write(b'x')
        atomic_write_bytes(b'x', atomic)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(atomic.stat().st_mode) == 0o666 & ~umask
    assert atomic.stat().st_mode == plain.stat().st_mode


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / 'shared.pth'
    path.write_bytes(b'old')
    path.chmod(0o640)
    atomic_write_bytes(b'new', path)
    assert path.read_bytes() == b'new'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_failed_atomic_write_leaves_the_previous_file_whole(tmp_path,
                                                            monkeypatch):
    import errno

    import mmfasternet.checkpoint as checkpoint_module
    path = tmp_path / 'latest.pth'
    path.write_bytes(b'complete previous checkpoint')

    def disk_full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(checkpoint_module.os, 'fsync', disk_full)
    with pytest.raises(OSError, match='No space left'):
        atomic_write_bytes(b'half of a new one', path)
    assert path.read_bytes() == b'complete previous checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['latest.pth']


def test_checkpoints_saved_by_mmengine_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        _runner(tmp_path, max_iters=2).train()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / 'iter_2.pth').stat().st_mode) == 0o644


def test_wrapper_prefix_is_stripped_once_and_only_at_the_start():
    state = {'module.backbone.x': 1, 'neck.module.y': 2,
             'module.module.z': 3}
    assert strip_wrapper_prefix(state) == {
        'backbone.x': 1, 'neck.module.y': 2, 'module.z': 3}
