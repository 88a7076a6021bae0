"""scripts/gpu_check.sh without a GPU: argument handling, stage selection,
the refusal when no GPU is present, and that the commands each stage runs
(printed by --dry-run, with a stand-in nvidia-smi) use flags the tools
accept."""
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from script_environment import script_environment

REPO = Path(__file__).parents[1]
SCRIPT = REPO / 'scripts' / 'gpu_check.sh'
H100 = 'NVIDIA H100 80GB HBM3, 9.0'


def fake_smi(tmp_path, lines):
    """A bin folder whose nvidia-smi prints `lines` (no GPU when empty)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / 'nvidia-smi'
    body = ''.join(f'echo {shlex.quote(line)}\n' for line in lines)
    smi.write_text('#!/usr/bin/env bash\n' + body)
    smi.chmod(0o755)
    return bin_dir


def gpu_check(tmp_path, *args, gpus=(H100, )):
    env = script_environment(PATH=f'{fake_smi(tmp_path, gpus)}:'
                             f'{os.environ["PATH"]}',
                             WORK=str(tmp_path / 'work'))
    return subprocess.run(['bash', str(SCRIPT), *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def commands(result):
    """The commands a --dry-run printed, as argument lists."""
    return [shlex.split(line[2:]) for line in result.stdout.splitlines()
            if line.startswith('+ ')]


def load_tool(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('args, message', [
    ((), 'no stage given'),
    (('--stage', 'deploy'), "unknown stage 'deploy'"),
    (('--stage', ), '--stage needs a value'),
    (('--stage', 'test', '--fast'), "unknown argument '--fast'"),
])
def test_bad_arguments_are_refused_with_usage(tmp_path, args, message):
    result = gpu_check(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert 'build|test|bench' in result.stderr or 'choose build' in \
        result.stderr


def test_refuses_clearly_without_a_gpu(tmp_path):
    result = gpu_check(tmp_path, '--stage', 'test', gpus=())
    assert result.returncode == 1
    assert 'no NVIDIA GPU found' in result.stderr
    assert result.stderr.count('\n') == 1
    assert '+ ' not in result.stdout  # nothing was started


def test_build_compiles_mmcv_for_the_detected_architectures(tmp_path):
    result = gpu_check(tmp_path, '--stage=build', '--dry-run',
                       gpus=(H100, 'NVIDIA A10, 8.6', H100))
    assert result.returncode == 0, result.stderr
    install = commands(result)[0]
    assert install[-2:] == ['bash', 'scripts/install.sh']
    assert 'TORCH_CUDA_ARCH_LIST=8.6;9.0' in install
    assert 'FORCE_CUDA=1' in install
    assert any(a.startswith('VENV_DIR=') and a.endswith('.venv-cuda')
               for a in install)
    assert 'nms(' in result.stdout  # the compiled ops run on the GPU


def test_test_stage_trains_with_amp_and_ddp_on_every_gpu(
        tmp_path, monkeypatch):
    result = gpu_check(tmp_path, '--stage', 'test', '--dry-run',
                       gpus=(H100, H100))
    assert result.returncode == 0, result.stderr
    cmds = commands(result)
    pytest_run = next(c for c in cmds if c[1:3] == ['-m', 'pytest'])
    assert 'tests/test_resume_and_eval_safety.py' in pytest_run
    train = next(c for c in cmds if c[1] == 'tools/train.py')
    assert '--amp' in train
    test = next(c for c in cmds if c[1] == 'tools/test.py')
    assert '--amp' in test and test[3].endswith('iter_20.pth')
    ddp = next(c for c in cmds if 'tools/dist_train.sh' in c)
    assert ddp[ddp.index('tools/dist_train.sh') + 2] == '2'
    # The flags are the tools' own: their parsers accept them.
    for tool, cmd in (('train', train), ('test', test)):
        module = load_tool(REPO / 'tools' / f'{tool}.py', f'gpu_{tool}')
        monkeypatch.setattr(sys, 'argv', cmd[1:])
        assert module.parse_args().amp


def test_bench_names_the_device_and_uses_the_benchmark_flags(tmp_path):
    result = gpu_check(tmp_path, '--stage', 'bench', '--dry-run')
    assert result.returncode == 0, result.stderr
    cmds = commands(result)
    ours = [c for c in cmds if 'tools/analysis/benchmark.py' in c]
    assert len(ours) == 2
    module = load_tool(REPO / 'tools' / 'analysis' / 'benchmark.py',
                       'gpu_benchmark')
    for cmd in ours:
        args = module.parse_args(cmd[2:])
        assert args.device == 'cuda'
        assert args.out.startswith('benchmarks/') and \
            'nvidia_h100_80gb_hbm3' in args.out
        assert {'train_fp32', 'train_fp16'} <= set(args.forms)
        assert len([c for c in args.configs if 'fasternet' in c]) == 3
        assert any('r101' in c for c in args.configs)
    assert module.parse_args(ours[1][2:]).backbone_only
    mmdet_run = next(c for c in cmds
                     if c[-1].endswith('analysis_tools/benchmark.py') or
                     any(a.endswith('analysis_tools/benchmark.py')
                         for a in c))
    assert 'configs/maskrcnn_fasternet_s_coco.py' in mmdet_run
    assert not list((REPO / 'benchmarks').glob('*nvidia_h100*')), \
        'a dry run wrote results'


def test_build_takes_nvcc_from_pypi_when_the_machine_has_none(tmp_path):
    bin_dir = fake_smi(tmp_path, [H100])
    for tool in ('bash', 'env', 'grep', 'cut', 'tr', 'sort', 'paste', 'head',
                 'sed', 'nproc', 'dirname'):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = script_environment(PATH=str(bin_dir))
    result = subprocess.run(['bash', str(SCRIPT), '--stage', 'build',
                             '--dry-run'], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'CUDA_FROM_PYPI=1' in commands(result)[0]
    # With a toolkit named, nothing comes from PyPI.
    env['CUDA_HOME'] = str(tmp_path)
    result = subprocess.run(['bash', str(SCRIPT), '--stage', 'build',
                             '--dry-run'], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert 'CUDA_FROM_PYPI=1' not in commands(result)[0]
