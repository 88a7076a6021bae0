"""What a results file says about where and when it was measured."""
import datetime
import os
import platform
import shlex
import shutil
import subprocess
import sys
from typing import Dict, List

import torch

# CPU flags that decide how fast fp32 and bf16 convolutions can run.
SPEED_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16',
               'amx_tile', 'amx_bf16', 'amx_int8')


def lscpu() -> Dict[str, str]:
    """``lscpu`` fields by name (empty when lscpu is missing)."""
    if not shutil.which('lscpu'):
        return {}
    out = subprocess.run(['lscpu'], capture_output=True, text=True,
                         timeout=30).stdout
    fields = {}
    for line in out.splitlines():
        key, _, value = line.partition(':')
        fields.setdefault(key.strip(), value.strip())
    return fields


def load() -> str:
    """The ``uptime`` line (load averages over 1, 5 and 15 minutes)."""
    if shutil.which('uptime'):
        return subprocess.run(['uptime'], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    return 'load average: ' + ', '.join(f'{x:.2f}' for x in os.getloadavg())


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%d %H:%M:%S UTC')


def command_line() -> str:
    """The command as typed, with the interpreter that ran it."""
    return shlex.join([os.path.relpath(sys.executable)] + sys.argv)


def describe(device: str) -> List[str]:
    """Header lines of a results file: machine, software, threads."""
    cpu = lscpu()
    flags = cpu.get('Flags', '').split()
    lines = [
        f'cpu: {cpu.get("Model name", platform.processor() or "unknown")}, '
        f'{cpu.get("CPU(s)", os.cpu_count())} CPU(s), '
        f'{cpu.get("Thread(s) per core", "?")} thread(s) per core',
        'speed flags present: ' + (' '.join(
            f for f in SPEED_FLAGS if f in flags) or 'none') +
        '; absent: ' + (' '.join(f for f in SPEED_FLAGS if f not in flags)
                        or 'none'),
        f'all lscpu flags: {" ".join(flags)}',
        f'torch {torch.__version__}, torch threads: {torch.get_num_threads()}'
        f', python {platform.python_version()}',
    ]
    if device.startswith('cuda'):
        lines.append(f'device: {torch.cuda.get_device_name(device)}')
    return lines


def machine_info() -> Dict[str, object]:
    """CPU model, the flags that decide bf16 speed, cores, torch version."""
    fields = lscpu()
    info: Dict[str, object] = dict(torch=torch.__version__,
                                   threads=torch.get_num_threads(),
                                   platform=platform.platform())
    if 'Model name' in fields:
        info['cpu'] = fields['Model name']
    if fields.get('CPU(s)', '').isdigit():
        info['cpus'] = int(fields['CPU(s)'])
    info['bf16_flags'] = sorted(
        f for f in fields.get('Flags', '').split()
        if f.startswith(('amx', 'avx512_bf16', 'avx512f')))
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name()
    return info
