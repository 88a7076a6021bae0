"""The train and test tools destroy their process group before the process
exits: left to Python's exit, gloo's worker threads could abort a run that
succeeded (mmfasternet.apis.runner.process_group_closed_at_exit)."""
import pytest
import torch
import torch.distributed as dist

from mmfasternet.apis.runner import process_group_closed_at_exit


@pytest.fixture
def gloo_group(tmp_path):
    """A one-process gloo group, as torchrun's ranks make (file rendezvous,
    so no port is taken)."""
    store = dist.FileStore(str(tmp_path / 'store'), 1)
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_process_group_is_destroyed_after_the_run(gloo_group):
    with process_group_closed_at_exit():
        assert dist.is_initialized()
        dist.all_reduce(torch.ones(2))  # a collective whose work is freed
    assert not dist.is_initialized()


def test_process_group_is_destroyed_when_the_run_fails(gloo_group):
    with pytest.raises(RuntimeError, match='run failed'):
        with process_group_closed_at_exit():
            raise RuntimeError('run failed')
    assert not dist.is_initialized()


def test_single_process_runs_need_no_group():
    assert not dist.is_initialized()
    with process_group_closed_at_exit():
        pass
    assert not dist.is_initialized()
