"""The Dockerfiles, checked without a Docker daemon (none runs here)."""
import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
DOCKERFILES = [REPO / 'docker' / 'Dockerfile',
               REPO / 'docker' / 'Dockerfile.cpu']
PINNED = [line.split('=')[0].split('<')[0].split('>')[0]
          for line in (REPO / 'requirements' / 'stack.txt').read_text()
          .splitlines() if line and not line.startswith('#')]


def instructions(path: Path) -> list:
    """(INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = re.sub(r'\\\n', ' ', path.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            keyword, _, rest = line.partition(' ')
            result.append((keyword.upper(), ' '.join(rest.split())))
    return result


def ignored(path: str) -> bool:
    """Docker's rule: the last pattern that matches decides; !p re-includes."""
    patterns = [p.strip() for p in (REPO / '.dockerignore').read_text()
                .splitlines() if p.strip() and not p.startswith('#')]
    result = False
    for pattern in patterns:
        negated = pattern.startswith('!')
        pattern = pattern.lstrip('!').rstrip('/')
        if fnmatch.fnmatch(path.rstrip('/'), pattern) or \
                path.startswith(pattern + '/'):
            result = not negated
    return result


def stages(steps: list) -> list:
    """The instructions of each build stage (FROM starts one)."""
    result = []
    for step in steps:
        if step[0] == 'FROM':
            result.append([])
        if result:
            result[-1].append(step)
    return result


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_stack_comes_from_install_script_before_the_source(dockerfile):
    # In the stage that installs (the last one with a RUN of install.sh).
    steps = [stage for stage in stages(instructions(dockerfile))
             if any('scripts/install.sh' in a for k, a in stage
                    if k == 'RUN')][-1]
    runs = [i for i, (k, a) in enumerate(steps) if k == 'RUN']
    stack = [i for i in runs if 'STACK_ONLY=1 bash scripts/install.sh'
             in steps[i][1]]
    source = [i for i, (k, a) in enumerate(steps)
              if k == 'COPY' and a.split()[-2:] == ['.', '.']]
    assert len(stack) == 1 and len(source) == 1
    assert stack[0] < source[0]
    copies_before = [steps[i][1] for i in range(stack[0])
                     if steps[i][0] == 'COPY']
    assert any('requirements/' in c for c in copies_before)
    assert any('scripts/install.sh' in c for c in copies_before)
    assert any(re.search(r'(^|&& )bash scripts/install.sh', steps[i][1])
               for i in runs if i > source[0])
    # No second list of versions: nothing pinned is pip-installed directly.
    for i in runs:
        for package in PINNED:
            assert not re.search(rf'pip3? install[^&]*\b{package}\b',
                                 steps[i][1]), steps[i][1]


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_mount_points_belong_to_the_user(dockerfile):
    # Docker makes missing mount-point parents as root: data/ must exist,
    # made by the user (or copied from a stage that did, owned by the user).
    steps = instructions(dockerfile)
    user = max(i for i, (k, _) in enumerate(steps) if k == 'USER')
    made = [a for k, a in steps[user:] if k == 'RUN' and 'mkdir -p' in a]
    assert made and all(d in made[-1].split('mkdir -p')[1].split()
                        for d in ('data', 'work_dirs', 'checkpoints'))
    for keyword, args in stages(steps)[-1]:
        if keyword == 'COPY' and '--from=' in args:
            assert '--chown=1000' in args, args


def test_cpu_image_takes_a_wheelhouse_that_stays_out_of_the_image():
    steps = instructions(DOCKERFILES[1])
    *first, last = stages(steps)
    assert ('ARG', 'WHEELHOUSE=""') in [s for stage in first for s in stage]
    copies = [a for stage in first for k, a in stage if k == 'COPY']
    assert any(a.split()[-2:] == ['docker/wheelhouse/', 'docker/wheelhouse/']
               for a in copies)
    # The final image copies the built stage, never the build context.
    final_copies = [a for k, a in last if k == 'COPY']
    assert final_copies and all('--from=' in a for a in final_copies)
    assert any('rm -rf docker/wheelhouse/*.whl' in a
               for stage in first for k, a in stage if k == 'RUN')
    # .dockerignore sends the wheels and nothing else of that folder.
    assert not ignored('docker/wheelhouse/torch-2.13.0-cp311.whl')
    assert not ignored('docker/wheelhouse/README.md')
    assert ignored('docker/wheelhouse/pip.log')


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_copies_only_what_dockerignore_allows(dockerfile):
    for keyword, args in instructions(dockerfile):
        if keyword != 'COPY' or '--from=' in args:  # from a stage
            continue
        sources = [a for a in args.split()[:-1] if not a.startswith('--')]
        for source in sources:
            if source == '.':
                continue
            assert (REPO / source).exists(), source
            assert not ignored(source), source
    for path in ('.venv', 'data', 'work_dirs', '.git', 'checkpoints'):
        assert ignored(path), path
    for path in ('mmfasternet', 'configs', 'tools', 'scripts/install.sh',
                 'requirements/stack.txt'):
        assert not ignored(path), path


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile):
    hadolint = shutil.which('hadolint') or shutil.which(
        'hadolint', path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip('hadolint not installed (scripts/install.sh installs it)')
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('args', [[], ['push']])
def test_local_build_script_names_its_steps_when_given_no_known_one(
        args, tmp_path):
    """docker/build_local_test.sh does nothing (no daemon, no image, no lab
    folder) unless told one of its steps, and then lists them."""
    lab = tmp_path / 'lab'
    result = subprocess.run(
        ['bash', str(REPO / 'docker' / 'build_local_test.sh'), *args],
        capture_output=True, text=True, timeout=60,
        env={'PATH': '/usr/bin:/bin', 'LAB': str(lab)})
    assert result.returncode == 2
    assert not lab.exists()
    assert 'usage:' in result.stderr
    for step in ('base', 'daemon', 'wheels', 'build', 'demo', 'test', 'all'):
        assert step in result.stderr
