"""scripts/install.sh and .ci/run, exercised without installing anything:
the prerequisite check (run for real, with a PATH or interpreter that lacks
one thing), and the install steps against a stand-in environment whose
python only logs what it is asked to do."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from script_environment import script_environment

REPO = Path(__file__).parents[1]
INSTALL = REPO / 'scripts' / 'install.sh'
# Tools the prerequisite check itself uses; a PATH of these lacks a compiler.
BASE_TOOLS = ('bash', 'cat', 'cut', 'dirname', 'grep', 'sha256sum', 'uname',
              'env', 'nproc', 'pwd')


def tool_dir(tmp_path, tools=BASE_TOOLS, name='bin'):
    folder = tmp_path / name
    folder.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return folder


def wrapped_python(tmp_path, fail_on):
    """A python3 that fails any -c program containing `fail_on` (as an
    interpreter lacking that piece would) and otherwise is this one."""
    path = tmp_path / 'python3'
    path.write_text(f'#!/usr/bin/env bash\n'
                    f'if [[ "$*" == *{fail_on!r}* ]]; then exit 1; fi\n'
                    f'exec {sys.executable} "$@"\n')
    path.chmod(0o755)
    return path


def install(tmp_path, *args, path=None, script=INSTALL, **env):
    environ = script_environment(VENV_DIR=str(tmp_path / 'venv'),
                                 PYTHON=sys.executable)
    environ.update(env)
    if path is not None:
        environ['PATH'] = str(path)
    return subprocess.run(['bash', str(script), *args], env=environ,
                          capture_output=True, text=True, timeout=120)


def assert_stopped_with(result, tmp_path, *words):
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / 'venv').exists(), 'stopped after making the venv'


def test_missing_compiler_stops_the_install_before_any_pip_step(tmp_path):
    result = install(tmp_path, path=tool_dir(tmp_path))
    assert_stopped_with(result, tmp_path, 'C++ compiler', 'build-essential')


def test_missing_venv_module_names_python3_venv(tmp_path):
    result = install(tmp_path, '--check-prerequisites',
                     PYTHON=str(wrapped_python(tmp_path, 'ensurepip')))
    assert_stopped_with(result, tmp_path, 'venv module', 'python3-venv')


def test_missing_python_headers_name_python3_dev(tmp_path):
    if not shutil.which('c++'):
        pytest.skip('no C++ compiler here: that check comes first')
    result = install(tmp_path, '--check-prerequisites',
                     PYTHON=str(wrapped_python(tmp_path, 'Python.h')))
    assert_stopped_with(result, tmp_path, 'Python headers', 'python3-dev')


def test_old_python_is_refused_naming_the_version_needed(tmp_path):
    result = install(tmp_path, '--check-prerequisites',
                     PYTHON=str(wrapped_python(tmp_path, 'version_info')))
    assert_stopped_with(result, tmp_path, 'Python 3.10 or newer')


def test_missing_interpreter_is_named(tmp_path):
    result = install(tmp_path, PYTHON='python3.99')
    assert_stopped_with(result, tmp_path, 'python3.99', 'apt install python3')


def test_cuda_build_without_nvcc_is_refused(tmp_path):
    if not shutil.which('c++'):
        pytest.skip('no C++ compiler here: that check comes first')
    path = tool_dir(tmp_path, BASE_TOOLS + ('c++', ))
    result = install(tmp_path, path=path, FORCE_CUDA='1',
                     CUDA_HOME=str(tmp_path / 'nowhere'))
    assert_stopped_with(result, tmp_path, 'nvcc', 'CUDA_HOME')


def test_missing_wheelhouse_folder_is_named(tmp_path):
    result = install(tmp_path, WHEELHOUSE=str(tmp_path / 'wheels'))
    assert_stopped_with(result, tmp_path, 'WHEELHOUSE=', 'make_wheelhouse.sh')


def test_wheelhouse_needs_no_compiler(tmp_path):
    (tmp_path / 'wheels').mkdir()
    result = install(tmp_path, '--check-prerequisites',
                     path=tool_dir(tmp_path),
                     WHEELHOUSE=str(tmp_path / 'wheels'))
    assert result.returncode == 0, result.stderr
    assert 'prerequisites present' in result.stdout


def test_unknown_argument_is_refused(tmp_path):
    result = install(tmp_path, '--fast')
    assert result.returncode == 1
    assert 'unknown argument --fast' in result.stderr


@pytest.fixture
def checkout(tmp_path):
    """A copy of the install script and pin files, and a stand-in
    environment: its python logs each call and succeeds."""
    root = tmp_path / 'checkout'
    (root / 'scripts').mkdir(parents=True)
    shutil.copy(INSTALL, root / 'scripts' / 'install.sh')
    shutil.copytree(REPO / 'requirements', root / 'requirements')
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True)
    log = tmp_path / 'calls.log'
    python = venv / 'bin' / 'python'
    python.write_text(f'#!/usr/bin/env bash\necho "$PWD $*" >> {log}\n')
    python.chmod(0o755)
    (tmp_path / 'wheels').mkdir()
    return root, log


def run_checkout(tmp_path, root):
    # A wheelhouse: no compiler needed, so this runs on any machine.
    return install(tmp_path, script=root / 'scripts' / 'install.sh',
                   WHEELHOUSE=str(tmp_path / 'wheels'))


def pip_calls(log):
    return [line for line in log.read_text().splitlines()
            if ' -m pip install' in line] if log.exists() else []


def test_install_steps_use_only_the_wheelhouse_and_check_every_package(
        tmp_path, checkout):
    root, log = checkout
    result = run_checkout(tmp_path, root)
    assert result.returncode == 0, result.stderr
    calls = pip_calls(log)
    assert len(calls) >= 5
    wheels = str(tmp_path / 'wheels')
    for call in calls:
        assert f'--no-index --find-links {wheels}' in call, call
    assert any('mmcv==' in call for call in calls)
    check = [line for line in log.read_text().splitlines()
             if 'check_stack.py' in line]
    # The import check runs from outside the checkout, on both pin files.
    assert check and check[0].startswith('/ ')
    assert 'stack.txt' in check[0] and 'tests.txt' in check[0]


def test_a_changed_install_script_reinstalls_an_existing_venv(
        tmp_path, checkout):
    root, log = checkout
    assert run_checkout(tmp_path, root).returncode == 0
    first = len(pip_calls(log))
    result = run_checkout(tmp_path, root)
    assert 'up to date' in result.stdout
    assert len(pip_calls(log)) == first  # nothing reinstalled
    script = root / 'scripts' / 'install.sh'
    script.write_text(script.read_text() + '# a changed step\n')
    result = run_checkout(tmp_path, root)
    assert 'up to date' not in result.stdout
    assert len(pip_calls(log)) == 2 * first


def test_ci_uses_the_environment_named_by_venv_dir(tmp_path):
    root = tmp_path / 'checkout'
    (root / '.ci').mkdir(parents=True)
    (root / 'scripts').mkdir()
    shutil.copy(REPO / '.ci' / 'run', root / '.ci' / 'run')
    log = tmp_path / 'calls.log'
    for name in ('install.sh', 'lint.sh', 'test.sh'):
        (root / 'scripts' / name).write_text(
            f'echo "{name} VENV_DIR=$VENV_DIR" >> {log}\n')
    venv = tmp_path / 'elsewhere'
    (venv / 'bin').mkdir(parents=True)
    hadolint = venv / 'bin' / 'hadolint'
    hadolint.write_text(f'#!/usr/bin/env bash\necho "hadolint $*" >> {log}\n')
    hadolint.chmod(0o755)
    result = subprocess.run(['bash', str(root / '.ci' / 'run')],
                            env=script_environment(VENV_DIR=str(venv)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    calls = log.read_text()
    assert f'install.sh VENV_DIR={venv}' in calls
    assert 'lint.sh' in calls and 'test.sh' in calls
    assert 'hadolint docker/Dockerfile docker/Dockerfile.cpu' in calls


def load_check_stack():
    spec = importlib.util.spec_from_file_location(
        'check_stack', REPO / 'scripts' / 'check_stack.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_stack_passes_an_installed_pin_and_imports_it(tmp_path):
    import pytest as installed
    pins = tmp_path / 'pins.txt'
    pins.write_text(f'# comment\npytest=={installed.__version__}\n')
    checked, problems = load_check_stack().check([pins])
    assert (checked, problems) == (1, [])


def test_check_stack_reports_version_absence_and_import_failure(
        tmp_path, monkeypatch):
    import pytest as installed
    check_stack = load_check_stack()
    pins = tmp_path / 'pins.txt'
    pins.write_text('pytest==0.0.1\nno-such-package-here==1.0\n')
    _, problems = check_stack.check([pins])
    assert any('pytest: ' in p and 'installed' in p and '0.0.1' in p
               for p in problems)
    assert any('no-such-package-here: not installed' in p for p in problems)

    def broken(name):
        raise ImportError(f'{name} is broken')

    monkeypatch.setattr(check_stack.importlib, 'import_module', broken)
    pins.write_text(f'pytest=={installed.__version__}\n')
    _, problems = check_stack.check([pins])
    assert problems and all('import' in p and 'broken' in p
                            for p in problems)


def test_installed_package_wins_over_a_same_named_folder_in_the_cwd(
        tmp_path):
    """In the images the checkout is /mmfasternet, so from `/` a folder named
    mmfasternet sits in the current directory: the installed package must
    still be this checkout's, not an empty namespace package
    (pypa/setuptools#3557; install.sh installs in compat mode)."""
    (tmp_path / 'mmfasternet').mkdir()
    program = 'import mmfasternet; print(mmfasternet.__file__)'
    result = subprocess.run(
        [sys.executable, '-c', program], cwd=tmp_path,
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(REPO / 'mmfasternet' / '__init__.py')
