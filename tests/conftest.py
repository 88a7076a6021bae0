"""Settings every test starts from, whatever the shell that runs pytest has.
"""
import os

import pytest
import torch


def pytest_configure(config):
    """Under pytest-xdist each worker gets one core: two workers' torch and
    OpenMP threads would otherwise fight over the same cores (the suite
    then runs slower than in one process)."""
    if os.environ.get('PYTEST_XDIST_WORKER'):
        os.environ['OMP_NUM_THREADS'] = '1'
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def no_user_data_locations(monkeypatch):
    """The configs read these; a test that needs one sets it itself."""
    for variable in ('FASTERNET_PRETRAINED', 'COCO_ROOT'):
        monkeypatch.delenv(variable, raising=False)
