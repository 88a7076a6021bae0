"""Command lines of the small tools and scripts: what they print, write and
pass on; how errors end."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmfasternet.apis import run_cli
from mmfasternet.errors import InputError

REPO = Path(__file__).parents[1]
DET_DEMO = 'configs/demo/maskrcnn_fasternet_t0_synthetic.py'
SEG_DEMO = 'configs/demo/fpn_fasternet_t0_synthetic.py'
TIMEOUT = 900  # a hang guard, generous for a busy 2-core machine


def run(*args, env=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*args], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT,
        env=dict(os.environ, **(env or {})))
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def python(*args, **kwargs) -> subprocess.CompletedProcess:
    return run(sys.executable, *args, **kwargs)


@pytest.mark.slow
def test_make_synthetic_data_command_line(tmp_path):
    root = tmp_path / 'coco'
    result = python('tools/make_synthetic_data.py', 'coco', str(root),
                    '--train', '3', '--val', '2', '--size', '32')
    assert result.stdout == f'coco data set ready in {root}\n'
    for split, count in (('train', 3), ('val', 2)):
        annotations = json.loads(
            (root / f'annotations/instances_{split}2017.json').read_text())
        assert len(annotations['images']) == count
        assert len(list((root / f'{split}2017').iterdir())) == count
    ade = tmp_path / 'ade'
    python('tools/make_synthetic_data.py', 'ade', str(ade), '--train', '2',
           '--val', '1', '--size', '32')
    assert len(list((ade / 'annotations/training').glob('*.png'))) == 2
    assert len(list((ade / 'images/validation').glob('*.jpg'))) == 1


@pytest.mark.slow
def test_demo_report_untrained_checkpoint_and_loss_curve(tmp_path):
    out = tmp_path / 'untrained.pth'
    result = python('tools/demo_report.py', 'untrained', SEG_DEMO, str(out))
    assert result.stdout.strip().splitlines()[-1] == str(out)
    state_dict = torch.load(out, weights_only=True)['state_dict']
    assert state_dict['backbone.patch_embed.proj.weight'].shape == (
        40, 3, 4, 4)
    scalars = tmp_path / 'work/20250101_000000/vis_data/scalars.json'
    scalars.parent.mkdir(parents=True)
    scalars.write_text('\n'.join(json.dumps(dict(
        iter=i, loss=2. / i, loss_cls=1. / i)) for i in range(1, 6)))
    png = tmp_path / 'curve.png'
    result = python('tools/demo_report.py', 'loss-curve',
                    str(tmp_path / 'work'), str(png))
    assert result.stdout.strip() == str(png)
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def demo_stage_calls(tmp_path, forms):
    """The tool calls scripts/demo_stages.sh makes with DEMO_FORMS=forms,
    through a stand-in python that logs its arguments."""
    work = tmp_path / 'work'
    work.mkdir(exist_ok=True)
    (work / 'last_checkpoint').write_text(str(work / 'iter_8.pth'))
    fake = tmp_path / 'py'
    fake.write_text('#!/bin/sh\necho "$@" >> "$CALLS"\n')
    fake.chmod(0o755)
    calls = tmp_path / f'calls_{forms}.txt'
    result = run(
        'bash', '-c', 'source scripts/demo_stages.sh && train_and_evaluate '
        f'{fake} {DET_DEMO} {work} {tmp_path}/r.json pics cmd',
        env=dict(DEMO_FORMS=forms, CALLS=str(calls)), check=False)
    tools = [line.split()[0] for line in calls.read_text().splitlines()
             ] if calls.exists() else []
    return result, tools, calls.read_text() if calls.exists() else ''


def test_demo_evaluates_fp32_by_default_and_every_form_when_asked(tmp_path):
    _, tools, calls = demo_stage_calls(tmp_path, 'fp32')
    assert tools.count('tools/test.py') == 2 and '--amp' not in calls
    assert 'tools/demo_report.py results' in calls
    _, tools, calls = demo_stage_calls(tmp_path, 'all')
    assert tools.count('tools/test.py') == 4 + 1
    assert calls.count('--amp') == 2
    assert 'tools/model_converters/reparameterize_model.py' in tools
    assert '--run trained_deploy_channels_last_amp' in calls
    result, tools, _ = demo_stage_calls(tmp_path, 'bf16')
    assert result.returncode == 2 and tools == []  # refused before training
    assert 'DEMO_FORMS=bf16: use fp32 (the default) or all' in result.stderr


def test_slurm_train_passes_its_arguments_to_srun(tmp_path):
    fake = tmp_path / 'bin' / 'srun'
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$SRUN_LOG"\n')
    fake.chmod(0o755)
    log = tmp_path / 'srun.log'
    run('bash', 'tools/slurm_train.sh', 'gpu', 'fasternet', DET_DEMO,
        'work_dirs/x', '--cfg-options', 'train_cfg.max_iters=1',
        env=dict(PATH=f'{fake.parent}:{os.environ["PATH"]}',
                 SRUN_LOG=str(log), GPUS='4', GPUS_PER_NODE='2',
                 SRUN_ARGS='--qos=low --time=10', PYTHON='python3'))
    assert log.read_text().splitlines() == [
        '-p', 'gpu', '--job-name=fasternet', '--gres=gpu:2', '--ntasks=4',
        '--ntasks-per-node=2', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '--qos=low', '--time=10', 'python3', '-u', 'tools/train.py',
        DET_DEMO, '--work-dir=work_dirs/x', '--launcher=slurm',
        '--cfg-options', 'train_cfg.max_iters=1']


@pytest.mark.slow
def test_user_error_ends_in_one_line_unless_traceback_is_asked(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text("model = dict(\n    type='FasterNet',\n")
    result = python('tools/train.py', str(bad), check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: config {bad}, line 1: '(' was never closed: "
        f"model = dict(. Fix the Python syntax of the config.",
        '(set MMFASTERNET_TRACEBACK=1 to see the full traceback)']
    result = python('tools/train.py', str(bad), check=False,
                    env=dict(MMFASTERNET_TRACEBACK='1'))
    assert result.returncode == 1
    assert 'Traceback (most recent call last)' in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        'mmfasternet.errors.InputError: config ')


def test_run_cli_shows_bugs_with_their_traceback(capsys):
    def bug():
        return {}['missing']

    with pytest.raises(KeyError):
        run_cli(bug)

    def mistake():
        raise InputError('--work-dir: cannot write to /x.')

    with pytest.raises(SystemExit) as exit_:
        run_cli(mistake)
    assert exit_.value.code == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        'error: --work-dir: cannot write to /x.')


@pytest.mark.slow
def test_get_flops_prints_its_table_and_a_progress_line():
    result = python('tools/analysis/get_flops.py', SEG_DEMO, '--shape', '64',
                    '64')
    lines = result.stdout.splitlines()
    assert lines[0] == f'{SEG_DEMO}, input 64x64 (HxW):'
    assert lines[1].split() == ['part', 'params', 'GFLOPs']
    assert [line.split()[0] for line in lines[2:]] == [
        'model', 'backbone', 'neck', 'decode_head']
    # A progress line and mmseg's own warnings; no initialisation report
    # (one line per parameter, with its shape) and no setuptools notice.
    assert result.stderr.splitlines()[0].startswith('building the model')
    assert len(result.stderr.splitlines()) < 10, result.stderr
    assert 'torch.Size' not in result.stdout + result.stderr
    assert 'pkg_resources' not in result.stderr
