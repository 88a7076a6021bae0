"""Safe checkpoint loading and atomic saving for mmengine.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch
2.6 that means ``weights_only=True``, which refuses mmengine's own checkpoints
(their message hub holds ``HistoryBuffer`` objects and numpy arrays and
scalars). Instead of turning ``weights_only`` off, which would run any code
pickled into a file, the loader registered here keeps it on and allows
exactly the types that mmengine and numpy (1.x and 2.x) store.

Saving: mmengine's local file backend writes checkpoints in place, so a run
killed or out of disk mid-save leaves a truncated file. The backend registered
here writes a temporary file in the same folder, flushes and fsyncs it, and
renames it over the target: a file under the final name is always complete.
"""
import os
import os.path as osp
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import CheckpointError, InputError

# The statistics that HistoryBuffer registers for itself.
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def _numpy_globals() -> List:
    """numpy's pickling helpers under both the 1.x and the 2.x module names.

    A checkpoint written under numpy 1.x names ``numpy.core.multiarray``; one
    written under 2.x names ``numpy._core.multiarray``. Either must load.
    """
    multiarray = np._core.multiarray if hasattr(np, '_core') \
        else np.core.multiarray
    allowed = [np.ndarray, np.dtype]
    for name in ('_reconstruct', 'scalar'):
        function = getattr(multiarray, name)
        allowed += [(function, f'numpy.core.multiarray.{name}'),
                    (function, f'numpy._core.multiarray.{name}')]
    # numpy >= 1.25 pickles a dtype through its class in numpy.dtypes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType') and isinstance(
                getattr(dtypes, name), type)
        ]
    return allowed


def _history_buffer_method(owner: object, name: str) -> Callable:
    """Stands in for ``getattr`` while unpickling, and only for this case.

    A ``HistoryBuffer`` pickles its statistics functions as
    ``getattr(HistoryBuffer, 'mean')``. A general ``getattr`` would let a
    crafted file walk from an allowed object to any code, so this resolves
    nothing but those names on that class.
    """
    if owner is HistoryBuffer and name in HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(owner, "__name__", type(owner).__name__)}, '
        f'{name!r}) is not allowed in a checkpoint')


def allowed_checkpoint_globals() -> List:
    """The non-tensor types that mmengine checkpoints contain."""
    return [
        HistoryBuffer,
        (_history_buffer_method, 'builtins.getattr'),
        (_history_buffer_method, '__builtin__.getattr'),
    ] + _numpy_globals()


def load_local_checkpoint(filename: str,
                          map_location: Optional[str] = None) -> dict:
    """``torch.load`` with ``weights_only=True`` and mmengine's types allowed.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file is truncated or corrupt, or it carries
            pickled code or objects of other types (which never run).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        with torch.serialization.safe_globals(allowed_checkpoint_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines()]
        detail = next((line for line in lines if 'Unsupported' in line or
                       'not allowed' in line), lines[-1] if lines else '')
        raise CheckpointError(
            f'refused to load {filename}: it holds objects other than '
            f'tensors and the types mmengine stores, which could run code '
            f'({detail}). Load only checkpoints you trust; convert a '
            f'trusted one to a plain state dict first.') from None
    except (EOFError, zipfile.BadZipFile, RuntimeError, ValueError) as error:
        raise CheckpointError(
            f'cannot read checkpoint {filename}: the file is truncated or '
            f'not a PyTorch checkpoint ({type(error).__name__}: '
            f'{str(error).splitlines()[0] if str(error) else ""}). Use an '
            f'earlier checkpoint or download it again.') from None


def register_safe_checkpoint_loader() -> None:
    """Make mmengine read local checkpoints with :func:`load_local_checkpoint`.

    Covers ``load_from``, ``--resume``, ``init_cfg=dict(type='Pretrained')``
    and ``Runner.load_checkpoint``, which all go through mmengine's
    ``CheckpointLoader``. Safe to call more than once.
    """
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)


def _plain_write_mode(filepath: Union[str, Path]) -> int:
    """The permissions ``open(filepath, 'wb')`` would leave: those of the
    file it replaces, else 0o666 less the umask (``mkstemp`` gives 0o600,
    which other users, a container's other uid or a server cannot read)."""
    try:
        return os.stat(filepath).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that it is never seen half-written.

    On any failure (disk full, interrupt) the temporary file is removed and
    a previous file under ``filepath`` is left as it was. The file gets the
    permissions a plain write would have given it.
    """
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    mode = _plain_write_mode(filepath)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


def register_atomic_local_backend() -> None:
    """Make mmengine write local files (checkpoints included) atomically."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')


def check_checkpoint_file(path: Optional[str], option: str) -> None:
    """A local checkpoint path exists (URLs are left to mmengine)."""
    if path and '://' not in path and not osp.isfile(path):
        raise InputError(
            f'checkpoint not found: {path} ({option}). Pass the path of an '
            f'existing checkpoint.')


def strip_wrapper_prefix(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """Keys without the ``module.`` that DataParallel/DDP wrappers add (as
    mmengine's ``load_checkpoint`` revises them by default)."""
    return {key[len('module.'):] if key.startswith('module.') else key: value
            for key, value in state_dict.items()}
