"""The package's layers: each module imports only from layers below its own
(or from its own part), and no modules import each other in a cycle. Read
from the source, imports inside functions included, so a lazy import cannot
hide an upward dependency."""
import ast
import pathlib
from typing import Dict, List, Set

PACKAGE = pathlib.Path(__file__).parents[1] / 'mmfasternet'

# Lowest first. A module of one part may import a part of a lower rank or
# its own part; ``mmfasternet`` itself (the package's __init__, which
# registers FasterNet and the op fallbacks) sits above what it imports.
RANKS = {
    'errors': 0,
    'checkpoint': 1,
    'ops': 1,
    'datasets': 1,
    'visualization': 1,
    'models': 2,
    '__init__': 3,
    'inference': 4,
    'engine': 5,
    'deploy': 5,
    'analysis': 6,
    'demo': 7,
    'apis': 8,
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def modules() -> Dict[str, pathlib.Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def imported(name: str, path: pathlib.Path, known: Set[str]) -> Set[str]:
    """The package's modules that ``name`` imports anywhere in its file."""
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')
                anchor = anchor[:len(anchor) - node.level + 1]
                base = '.'.join(anchor + ([base] if base else []))
            targets = [base] + [f'{base}.{a.name}' for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def part(name: str) -> str:
    """``mmfasternet.deploy.convert`` -> ``deploy``; the package itself ->
    ``__init__``."""
    parts = name.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def import_graph() -> Dict[str, Set[str]]:
    known = modules()
    return {name: imported(name, path, set(known))
            for name, path in known.items()}


def upward_imports(graph: Dict[str, Set[str]]) -> List[str]:
    wrong = []
    for name, targets in graph.items():
        for target in targets:
            if part(target) != part(name) and \
                    RANKS[part(target)] >= RANKS[part(name)]:
                wrong.append(f'{name} imports {target}')
    return sorted(wrong)


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Every module that can reach itself, with one such path."""
    found = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for target in graph.get(node, ()):
                if target == start:
                    found.append(path + [start])
                    stack = []
                    break
                if target not in seen:
                    seen.add(target)
                    stack.append((target, path + [target]))
    return found


def test_every_part_of_the_package_has_a_rank():
    assert {part(name) for name in modules()} == set(RANKS)


def test_no_module_imports_from_a_layer_above_or_beside_its_own():
    assert upward_imports(import_graph()) == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_engine_knows_nothing_of_deployment_or_analysis():
    graph = import_graph()
    engine = {t for n, ts in graph.items() if part(n) == 'engine' for t in ts}
    assert not {part(t) for t in engine} & {'deploy', 'analysis', 'apis'}
