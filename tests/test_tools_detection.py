"""tools/train.py and tools/test.py on generated COCO data, end to end:
training, evaluation, pictures, exact resume after a kill, CPU DDP, mmdet's
own train.py, inputs refused before set-up."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import mmdet
import pytest
import torch
from mmdet.registry import HOOKS, VISUALIZERS
from mmengine.runner.checkpoint import _load_checkpoint

from mmfasternet.apis.runner import (build_runner, prepare_testing,
                                     prepare_training)
from mmfasternet.datasets import make_coco_dataset
from mmfasternet.demo import save_untrained_checkpoint
from mmfasternet.errors import InputError

REPO = Path(__file__).parents[1]
CONFIG = 'configs/demo/maskrcnn_fasternet_t0_synthetic.py'


@pytest.fixture(scope='module')
def coco(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('data') / 'coco'
    return make_coco_dataset(str(root), num_train=8, num_val=4, size=256)


def small_run(root: str, max_iters: int, interval: int = 2) -> list:
    """--cfg-options that point the demo config at ``root`` and shrink it."""
    options = [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={interval}',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
        'randomness.deterministic=True',
        f'val_evaluator.ann_file={root}/annotations/instances_val2017.json',
        f'test_evaluator.ann_file={root}/annotations/instances_val2017.json'
    ]
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={root}/',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    return ['--cfg-options'] + options


# Seconds one command may take before the test fails as hung (generous:
# a 2-core machine shared with other jobs is many times slower than idle).
TIMEOUT = 1800


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tool(*args, check=True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True,
        timeout=TIMEOUT, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(result.stderr[-3000:])
    return result


def train(work_dir: Path, root: str, max_iters: int, *extra, **kwargs):
    return tool('tools/train.py', CONFIG, '--work-dir', str(work_dir),
                *extra, *small_run(root, max_iters), **kwargs)


def logged(work_dir: Path, key: str) -> list:
    values = []
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            record = json.loads(line)
            if key in record:
                values.append(record[key])
    return values


def final_state(work_dir: Path) -> dict:
    last = (work_dir / 'last_checkpoint').read_text().strip()
    return _load_checkpoint(last)


def assert_same_training_state(a: dict, b: dict) -> None:
    assert a['meta']['iter'] == b['meta']['iter']
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    state_a, state_b = a['optimizer']['state'], b['optimizer']['state']
    assert state_a.keys() == state_b.keys()
    for index in state_a:
        for name, value in state_a[index].items():
            assert torch.equal(torch.as_tensor(value),
                               torch.as_tensor(state_b[index][name]))
    assert a['param_schedulers'] == b['param_schedulers']


@pytest.fixture(scope='module')
def straight_run(coco, tmp_path_factory) -> dict:
    work_dir = tmp_path_factory.mktemp('straight')
    train(work_dir, coco, 8)
    return final_state(work_dir)


@pytest.mark.slow
def test_training_learns_and_evaluation_writes_metrics_and_pictures(
        coco, tmp_path):
    work_dir = tmp_path / 'work'
    train(work_dir, coco, 16)
    losses = logged(work_dir, 'loss')
    assert len(losses) == 16
    assert sum(losses[-4:]) < sum(losses[:4])
    assert logged(work_dir, 'coco/bbox_mAP') and logged(work_dir,
                                                        'coco/segm_mAP')

    checkpoint = (work_dir / 'last_checkpoint').read_text().strip()
    out = tmp_path / 'predictions.pkl'
    result = tool('tools/test.py', CONFIG, checkpoint, '--work-dir',
                  str(tmp_path / 'test'), '--out', str(out), '--show-dir',
                  'pictures', *small_run(coco, 16))
    assert 'coco/bbox_mAP' in result.stdout + result.stderr
    metrics = list((tmp_path / 'test').glob('*/*.json'))
    assert any('coco/segm_mAP' in json.loads(m.read_text()) for m in metrics)
    pictures = list((tmp_path / 'test').glob('*/pictures/*.png'))
    assert len(pictures) == 4
    import pickle
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 4


KILL_DURING_SECOND_SAVE = '''
import os, runpy, signal, sys
import mmfasternet.checkpoint as checkpoint
real_fsync, calls = os.fsync, []
def fsync_then_die(fd):
    calls.append(fd)
    if len(calls) == 3:  # file and folder of iter_2.pth done; iter_4.pth half
        os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)
checkpoint.os.fsync = fsync_then_die
sys.argv = sys.argv[1:]
runpy.run_path('tools/train.py', run_name='__main__')
'''
STOCK_TRAIN = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'train.py'


@pytest.mark.slow
def test_run_killed_while_saving_resumes_exactly_with_mmdet_own_tool(
        coco, tmp_path, straight_run):
    """The one kill-and-resume run, end to end: killed half-way through
    writing iter_4.pth, the work dir keeps iter_2.pth complete and names it
    last; mmdet's stock train.py (our config's custom_imports and hooks,
    none of our tool's code) resumes from it to the straight run's state,
    bit for bit, and evaluates."""
    work_dir = tmp_path / 'killed_saving'
    result = tool('-c', KILL_DURING_SECOND_SAVE, 'tools/train.py', CONFIG,
                  '--work-dir', str(work_dir), *small_run(coco, 8),
                  check=False)
    assert result.returncode == -signal.SIGKILL
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']
    assert (work_dir / 'last_checkpoint').read_text().endswith('iter_2.pth')
    tool(str(STOCK_TRAIN), CONFIG, '--work-dir', str(work_dir), '--resume',
         *small_run(coco, 8))
    assert_same_training_state(straight_run, final_state(work_dir))
    assert logged(work_dir, 'coco/segm_mAP')


STOCK_TEST = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'test.py'


@pytest.mark.slow
@pytest.mark.parametrize('config', [
    'configs/demo/rtmdet_fasternet_t0_synthetic.py',
    'configs/demo/rtmdet-ins_fasternet_t0_synthetic.py'])
def test_mmdet_stock_tools_train_and_test_rtmdet_on_fasternet(
        coco, tmp_path, config):
    """mmdet's own train.py and test.py (none of our tools' code) on the
    RTMDet and RTMDet-Ins demo configs: two iterations, then the
    evaluator's metrics from the checkpoint written."""
    work_dir = tmp_path / 'work'
    tool(str(STOCK_TRAIN), config, '--work-dir', str(work_dir),
         *small_run(coco, 2))
    result = tool(str(STOCK_TEST), config, str(work_dir / 'iter_2.pth'),
                  '--work-dir', str(tmp_path / 'test'), *small_run(coco, 2))
    assert_tested(result, 'coco/segm_mAP' if 'rtmdet-ins' in config
                  else 'coco/bbox_mAP')


def assert_tested(result: subprocess.CompletedProcess, metric: str) -> None:
    """The test loop went through every batch and the evaluator ran: its
    metric, or, where the barely trained model kept no box above the
    score threshold, mmdet's CocoMetric saying so."""
    log = result.stdout + result.stderr
    assert re.search(r'\(test\) \[(\d+)/\1\]', log)
    assert metric in log or 'results of the whole dataset is empty' in log


@pytest.mark.slow
def test_mmdet_stock_test_runs_the_cascade_config(coco, tmp_path):
    """The COCO Cascade Mask R-CNN 3x config as a user runs it with mmdet's
    own test.py, pointed at the generated set (random weights)."""
    from mmengine.config import Config

    from mmfasternet.models import build_model
    config = 'configs/cascade-maskrcnn_fasternet_t2_ms-crop-3x_coco.py'
    cfg = Config.fromfile(str(REPO / config))
    cfg.model.backbone.init_cfg = None
    checkpoint = tmp_path / 'random.pth'
    torch.save({'state_dict': build_model(cfg).state_dict()}, checkpoint)
    ann = f'{coco}/annotations/instances_val2017.json'
    result = tool(str(STOCK_TEST), config, str(checkpoint), '--work-dir',
                  str(tmp_path / 'test'), '--cfg-options',
                  f'test_dataloader.dataset.data_root={coco}/',
                  'test_dataloader.num_workers=0',
                  'test_dataloader.persistent_workers=False',
                  f'test_evaluator.ann_file={ann}')
    assert_tested(result, 'coco/segm_mAP')


def test_work_dir_with_checkpoints_is_kept_unless_overwrite_is_passed(
        coco, tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'iter_2.pth').write_bytes(b'previous run')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_2.pth'))
    with pytest.raises(InputError, match=r'already holds checkpoints '
                       r'\(iter_2\.pth, \.\.\.\).*--resume.*--overwrite'):
        prepare_training(CONFIG, work_dir=str(work_dir),
                         cfg_options=local_data(coco))
    assert (work_dir / 'iter_2.pth').read_bytes() == b'previous run'
    # --overwrite starts over: no resume from the last_checkpoint left there.
    cfg = prepare_training(CONFIG, work_dir=str(work_dir), overwrite=True,
                           cfg_options=local_data(coco))
    assert not cfg.resume and cfg.load_from is None


def dist(script: str, *args) -> subprocess.CompletedProcess:
    """tools/dist_*.sh with 2 CPU processes on a free port."""
    result = subprocess.run(
        ['bash', script, *args], cwd=REPO, capture_output=True, text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()),
                 PYTHON=sys.executable))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_two_process_gloo_ddp_train_and_test(coco, tmp_path):
    work_dir = tmp_path / 'ddp'
    dist('tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir),
         *small_run(coco, 4))
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    checkpoint = final_state(work_dir)
    assert checkpoint['meta']['iter'] == 4
    # Saved without the DDP wrapper's "module." prefix: loads into a model.
    assert any(k.startswith('backbone.patch_embed')
               for k in checkpoint['state_dict'])
    test_dir = tmp_path / 'ddp_test'
    dist('tools/dist_test.sh', CONFIG, str(work_dir / 'iter_4.pth'), '2',
         '--work-dir', str(test_dir), *small_run(coco, 4))
    log = next(test_dir.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    [metrics] = [json.loads(m.read_text()) for m in test_dir.glob('*/*.json')]
    assert 0 <= metrics['coco/bbox_mAP'] <= 1


def test_missing_pretrained_checkpoint_stops_before_set_up(
        tmp_path, monkeypatch):
    monkeypatch.setenv('FASTERNET_PRETRAINED', f'{tmp_path}/weights')
    with pytest.raises(InputError, match=rf'{tmp_path}/weights/fasternet_t0-'
                       r'epoch.*init_cfg\.checkpoint.*init_cfg=None'):
        prepare_training('configs/maskrcnn_fasternet_t0_coco.py',
                         work_dir=str(tmp_path))


def test_absent_coco_names_where_it_looked_and_how_to_point_at_it(
        tmp_path, monkeypatch):
    monkeypatch.setenv('COCO_ROOT', f'{tmp_path}/no_coco/')
    with pytest.raises(InputError, match=rf'{tmp_path}/no_coco/ does not '
                       r'exist.*data_root=PATH.*COCO_ROOT.*demo\.sh'):
        prepare_training('configs/retinanet_fasternet_t0_coco.py',
                         work_dir=str(tmp_path),
                         cfg_options={'model.backbone.init_cfg': None})


def local_data(root: str) -> dict:
    options = {f'{split}_dataloader.dataset.data_root': f'{root}/'
               for split in ('train', 'val', 'test')}
    options.update({f'{split}_evaluator.ann_file':
                    f'{root}/annotations/instances_val2017.json'
                    for split in ('val', 'test')})
    return options


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_amp_without_gpu_is_refused_with_a_message(coco, tmp_path):
    with pytest.raises(InputError, match='--amp: .*needs a GPU'):
        prepare_training(CONFIG, work_dir=str(tmp_path), amp=True,
                         cfg_options=local_data(coco))


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='--amp needs CUDA; this machine has none')
def test_amp_trains_with_dynamic_loss_scaling_on_a_gpu(coco, tmp_path):
    cfg = prepare_training(CONFIG, work_dir=str(tmp_path), amp=True,
                           cfg_options=local_data(coco))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    train(tmp_path / 'amp', coco, 2, '--amp')
    assert final_state(tmp_path / 'amp')['meta']['iter'] == 2
    assert 'loss_scaler' in final_state(tmp_path / 'amp')['optimizer']


def test_auto_scale_lr_scales_by_the_actual_batch(coco, tmp_path):
    options = dict(local_data(coco), **{'train_dataloader.batch_size': 2})
    cfg = prepare_training(CONFIG, work_dir=str(tmp_path), cfg_options=options,
                           auto_scale_lr=True)
    runner = build_runner(cfg)
    optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    before = [g['lr'] for g in optim_wrapper.param_groups]
    runner.scale_lr(optim_wrapper, runner.auto_scale_lr)
    # One process, 2 images a step, against the recipe's total batch.
    factor = 2 / cfg.auto_scale_lr.base_batch_size
    assert factor < 1
    assert [g['lr'] for g in optim_wrapper.param_groups] == pytest.approx(
        [lr * factor for lr in before])


def test_show_turns_on_the_visualization_hook(coco, tmp_path):
    # Headless here: check the wiring, i.e. the hook that --show configures.
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'')
    cfg = prepare_testing(CONFIG, str(checkpoint), work_dir=str(tmp_path),
                          show=True, cfg_options=local_data(coco))
    VISUALIZERS.build(cfg.visualizer)
    hook = HOOKS.build(cfg.default_hooks.visualization)
    assert type(hook).__name__ == 'DetVisualizationHook'
    assert hook.draw and hook.show and hook.wait_time == 2


@pytest.mark.slow
def test_checkpoint_of_another_variant_stops_before_evaluation(
        coco, tmp_path):
    # A T0 checkpoint, a T1 model: stop at loading, name checkpoint and
    # config, blame no image.
    checkpoint = save_untrained_checkpoint(CONFIG, str(tmp_path / 't0.pth'))
    result = tool('tools/test.py', CONFIG, checkpoint, '--work-dir',
                  str(tmp_path / 'test'), *small_run(coco, 8),
                  'model.backbone.arch=t1', check=False)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-2]
    assert error.startswith(f'error: checkpoint {checkpoint} does not fit '
                            f'the model of config {CONFIG}')
    assert re.search(r': \d+ tensors do not match\. \d+ size mismatch: '
                     r'size mismatch for backbone\.', error)
    assert 'evaluation failed' not in result.stderr
    assert 'Traceback' not in result.stderr
