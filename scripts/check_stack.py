"""Check an installed environment against the pin files: every package named
there is installed at a version its line allows, and every module it installs
imports. scripts/install.sh runs it after an install, from outside the
checkout, with the environment's interpreter:

    python scripts/check_stack.py requirements/stack.txt requirements/tests.txt

Exit status 1 with one line per problem on stderr; nothing printed when all is
well but a summary line.
"""
import importlib
import importlib.metadata as metadata
import re
import sys
import warnings
from pathlib import Path

from packaging.requirements import Requirement

# Importing every package would print setuptools' notice about pkg_resources
# (imported by some of them) in the middle of an install log.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

# Distributions whose modules need more than a plain import to prove the
# install: mmcv built without its compiled ops imports fine.
EXTRA_MODULES = {'mmcv': ['mmcv.ops']}


def requirements(paths):
    """Requirement objects for the non-comment lines of the pin files."""
    for path in paths:
        for line in Path(path).read_text().splitlines():
            line = line.split('#', 1)[0].strip()
            if line:
                yield Requirement(line)


def normalise(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def top_level_modules():
    """Distribution name (normalised) -> its importable top-level modules."""
    found = {}
    for module, dists in metadata.packages_distributions().items():
        if module.startswith('_') or not module.isidentifier():
            continue
        for dist in dists:
            found.setdefault(normalise(dist), set()).add(module)
    return found


def check(paths):
    problems = []
    modules = top_level_modules()
    checked = 0
    for req in requirements(paths):
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f'{req.name}: not installed ({req})')
            continue
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f'{req.name}: {version} installed, {req} pinned')
        names = sorted(modules.get(normalise(req.name), ()))
        names += EXTRA_MODULES.get(normalise(req.name), [])
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as error:  # any failure to import is the finding
                first = str(error).splitlines()[0] if str(error) else ''
                problems.append(f'{req.name}: import {name} fails: '
                                f'{type(error).__name__}: {first}')
        checked += 1
    return checked, problems


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    checked, problems = check(argv)
    for problem in problems:
        print(f'check_stack: {problem}', file=sys.stderr)
    if problems:
        return 1
    print(f'check_stack: {checked} pinned packages installed and importable')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
