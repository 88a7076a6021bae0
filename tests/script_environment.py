"""The environment for running the project's shell scripts in a test: this
process's, less the variables that scripts/install.sh and
scripts/gpu_check.sh read. A caller that exported them (e.g. FORCE_CUDA=1
CUDA_FROM_PYPI=1 VENV_DIR=... bash scripts/test.sh, as for a CUDA stack)
would otherwise change what the scripts under test do."""
import os

SCRIPT_VARIABLES = (
    'VENV_DIR', 'PYTHON', 'TORCH_INDEX_URL', 'WHEELHOUSE', 'FORCE_CUDA',
    'TORCH_CUDA_ARCH_LIST', 'CUDA_HOME', 'CUDA_FROM_PYPI', 'MAX_JOBS',
    'STACK_ONLY', 'WORK')


def script_environment(**values):
    """os.environ without SCRIPT_VARIABLES, then `values` on top."""
    environ = {k: v for k, v in os.environ.items()
               if k not in SCRIPT_VARIABLES}
    environ.update(values)
    return environ
