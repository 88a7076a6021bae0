"""The documentation points at things that exist.

Every relative link (and its ``#anchor``) in README.md and docs/*.md
resolves, and every project path that a code span or block names
(``tools/...``, ``scripts/...``, ``configs/...``, ``demo/...``, and
``tests/``, ``benchmarks/``, ``docker/``, ``requirements/``,
``mmfasternet/``) exists, as do the files of mmdet's and mmseg's installed
tools that the docs run. The
pages are collected when the tests run, so pages added later are checked too.
"""
import glob
import importlib.util
import itertools
import json
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, Iterator, List, Set, Tuple

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

FENCE = re.compile(r'^(```|~~~).*?^\1', re.S | re.M)
INLINE_CODE = re.compile(r'`([^`\n]+)`')
# [text](target) and ![alt](target); the target ends at a space or ')'.
LINK = re.compile(r'!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
# A path of the project, not the tail of a longer path (``$root/tools/x``,
# ``mmseg/.mim/tools/x``) nor an ``mmdet::`` config name.
PROJECT_PATH = re.compile(
    r'(?<![\w./:$-])((?:tools|scripts|configs|demo|tests|benchmarks|docker|'
    r'requirements|mmfasternet)/[\w./{},*$-]*)')
# Files of installed packages, named as they sit in the repository's .venv
# or through $MMDET_TOOLS / $MMSEG_TOOLS (the packages' .mim/tools folders).
SITE_PATH = re.compile(
    r'\.venv/lib/python[\d.]+/site-packages/((?:mmdet|mmseg)/[\w./-]+)')
TOOLS_PATH = re.compile(r'\$(MMDET|MMSEG)_TOOLS/([\w./-]+)')


def installed_paths(text: str) -> List[str]:
    """Paths of mmdet's and mmseg's files that a page names, relative to
    site-packages (``mmdet/.mim/tools/analysis_tools/analyze_logs.py``)."""
    return SITE_PATH.findall(text) + [
        f'{package.lower()}/.mim/tools/{rest}'
        for package, rest in TOOLS_PATH.findall(text)]


def doc_pages() -> List[str]:
    """README.md and every page under docs/, relative to the repository."""
    pages = ['README.md'] + sorted(
        osp.relpath(path, ROOT)
        for path in glob.glob(osp.join(ROOT, 'docs', '**', '*.md'),
                              recursive=True))
    return [page for page in pages if osp.isfile(osp.join(ROOT, page))]


def read(page: str) -> str:
    with open(osp.join(ROOT, page), encoding='utf-8') as f:
        return f.read()


def split_code(text: str) -> Tuple[str, List[str]]:
    """The prose without code, and the code blocks and spans."""
    blocks = [m.group(0) for m in FENCE.finditer(text)]
    prose = FENCE.sub('', text)
    spans = INLINE_CODE.findall(prose)
    return INLINE_CODE.sub('', prose), blocks + spans


def heading_anchors(text: str) -> Set[str]:
    """GitHub's anchors for the headings of a Markdown page."""
    prose = FENCE.sub('', text)
    anchors: Set[str] = set()
    seen: Dict[str, int] = {}
    for line in prose.splitlines():
        match = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not match:
            continue
        slug = match.group(1).strip().lower().replace('`', '')
        slug = re.sub(r'[^\w\- ]', '', slug).replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def relative_links(text: str) -> Iterator[str]:
    prose, _ = split_code(text)
    for target in LINK.findall(prose):
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.I):
            continue  # http:, https:, mailto:
        yield target


def expand_braces(path: str) -> List[str]:
    """``a_{s,m}_b`` -> ``['a_s_b', 'a_m_b']`` (bash's brace expansion)."""
    parts = re.split(r'\{([^{}]*,[^{}]*)\}', path)
    choices = [[part] if i % 2 == 0 else part.split(',')
               for i, part in enumerate(parts)]
    return [''.join(combo) for combo in itertools.product(*choices)]


def project_paths(text: str) -> Set[str]:
    """Project paths named in the code blocks and code spans of a page."""
    _, code = split_code(text)
    paths = set()
    for snippet in code:
        for path in PROJECT_PATH.findall(snippet):
            if '...' in path:
                continue  # 'configs/...py': an ellipsis, not a path
            path = path.rstrip('.,:')
            if path.endswith('/') and path.count('/') == 1:
                continue  # 'configs/' alone names the folder in prose
            paths.update(expand_braces(path))
    return paths


def exists_in_repo(path: str) -> bool:
    """True if ``path`` exists; ``*`` and shell variables match anything."""
    pattern = re.sub(r'\$\{?\w+\}?', '*', path)
    if '*' in pattern:
        return bool(glob.glob(osp.join(ROOT, pattern)))
    return osp.exists(osp.join(ROOT, path))


@pytest.mark.parametrize('page', doc_pages())
def test_relative_links_resolve(page):
    text = read(page)
    broken = []
    for target in relative_links(text):
        path, _, anchor = target.partition('#')
        resolved = osp.normpath(
            osp.join(ROOT, osp.dirname(page), path)) if path else \
            osp.join(ROOT, page)
        if not osp.exists(resolved):
            broken.append(f'{target} (no such file)')
        elif anchor and resolved.endswith('.md') and \
                anchor not in heading_anchors(read(resolved)):
            broken.append(f'{target} (no heading #{anchor})')
    assert not broken, f'{page}: broken links: {broken}'


@pytest.mark.parametrize('page', doc_pages())
def test_paths_in_code_exist(page):
    missing = sorted(path for path in project_paths(read(page))
                     if not exists_in_repo(path))
    assert not missing, f'{page} names paths that do not exist: {missing}'


def test_installed_tool_paths_exist():
    """``.venv/lib/python3.11/site-packages/mmdet/.mim/tools/...`` and
    ``$MMDET_TOOLS/...`` name files that exist."""
    named = [(page, name) for page in doc_pages()
             for name in installed_paths(read(page))]
    if not named:
        pytest.skip('the docs name no files of mmdet or mmseg')
    site = {}
    for package in ('mmdet', 'mmseg'):
        module = pytest.importorskip(package)
        site[package] = osp.dirname(osp.dirname(module.__file__))
    missing = [f'{page}: {name}' for page, name in named
               if not osp.exists(osp.join(site[name.split('/')[0]], name))]
    assert not missing, f'not in the installed packages: {missing}'


def doc_tables(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, osp.join(ROOT, '.dev_scripts', 'doc_tables.py'),
         *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_generated_tables_match_their_files():
    """The model zoo and demo tables equal what their files give today."""
    pages = doc_pages()
    if not any('<!-- table: ' in read(page) for page in pages):
        pytest.skip('no generated tables in the docs yet')
    if 'model-zoo' in ''.join(read(page) for page in pages):
        pytest.importorskip('mmengine')
    done = doc_tables('--check', *pages)
    assert done.returncode == 0, done.stderr


def test_results_table_shows_the_file_and_flags_a_stale_page(tmp_path):
    results = dict(
        command='bash scripts/demo.sh', config='configs/demo/x.py',
        date='2026-11-25T17:00:00+00:00',
        machine=dict(cpu='Some CPU', threads=2, torch='2.13.0+cpu'),
        seconds=dict(data=6.0, train=690.4, test_fp32=31.0),
        metrics=dict(trained_fp32={'coco/bbox_mAP': 0.715, 'step': 3},
                     untrained_fp32={'coco/bbox_mAP': 0.0}))
    source = tmp_path / 'demo.json'
    source.write_text(json.dumps(results))
    page = tmp_path / 'page.md'
    page.write_text(f'Before.\n\n<!-- table: results {source}\n'
                    f'  metrics=coco/bbox_mAP -->\nold figures\n'
                    f'<!-- end table -->\n\nAfter.\n')
    assert doc_tables('--check', str(page)).returncode == 1
    assert doc_tables(str(page)).returncode == 0
    text = page.read_text()
    assert '| trained_fp32 | 0.715 |' in text
    assert '| untrained_fp32 | 0.0 |' in text
    assert 'old figures' not in text and 'step' not in text
    assert 'train 690 s' in text and '(total 12.1 min)' in text
    assert 'Some CPU, 2 threads' in text
    assert text.startswith('Before.') and text.endswith('After.\n')
    assert doc_tables('--check', str(page)).returncode == 0
    results['metrics']['trained_fp32']['coco/bbox_mAP'] = 0.7
    source.write_text(json.dumps(results))
    stale = doc_tables('--check', str(page))
    assert stale.returncode == 1 and 'page.md' in stale.stderr


def test_benchmark_table_shows_the_csv_and_how_it_was_run(tmp_path):
    fields = ('model,config,form,ran_as,backend,part,device,threads,batch,'
              'height,width,params,flops,median_ms,p25_ms,p75_ms,min_ms,'
              'images_per_s,achieved_gflops,rel_error_vs_fp32,error,times_ms')
    rows = [
        'r50,c1,train_fp32,train_fp32,pytorch,model,cpu,2,1,800,1280,1,'
        '260e9,6000,5900,6100,5800,0.17,43.3,0.0,,6000',
        'r50,c1,deploy_cl_fp32,train_cl_fp32,pytorch,model,cpu,2,1,800,1280,'
        '1,260e9,5000,4900,5100,4800,0.2,52,0.0,,5000',
        's,c2,train_fp32,train_fp32,onnxruntime,model,cpu,2,1,800,1280,1,'
        '265e9,2000,1900,2100,1800,0.5,132.5,,,2000',
        's,c2,train_fp32_compile,train_fp32_compile,pytorch,model,cpu,2,1,'
        '800,1280,1,265e9,nan,nan,nan,nan,nan,nan,,compile failed: X,']
    source = tmp_path / 'run.csv'
    source.write_text('\n'.join([fields] + rows) + '\n')
    page = tmp_path / 'page.md'
    page.write_text(f'<!-- table: benchmark {source} baseline=r50:'
                    f'train_fp32 -->\n<!-- end table -->\n')
    missing = doc_tables(str(page))
    assert missing.returncode == 1 and 'run.txt not found' in missing.stderr
    (tmp_path / 'run.txt').write_text(
        'command: python tools/analysis/benchmark.py c1 c2\n'
        'started: 2026-11-25 20:00:00 UTC\nload before: up, load average: '
        '1.00, 0.50, 0.20\ncpu: Some CPU, 2 CPU(s)\n'
        'speed flags present: avx2 fma; absent: amx_bf16\n\ntable\n'
        'rounds done: 5 of 5, finished: 2026-11-25 20:30:00 UTC\n'
        'load after: up, load average: 2.00, 1.50, 1.20\n')
    assert doc_tables(str(page)).returncode == 0
    text = page.read_text()
    assert '| r50 | train_fp32 | 260.0 | 6000.0 | 5900-6100 | 43.3 | 1.00 |' \
        in text
    assert '| r50 | deploy_cl_fp32 (runs as train_cl_fp32) |' in text
    assert '| s | onnxruntime (exported, fp32) | 265.0 | 2000.0 |' in text
    assert '| 3.00 |' in text  # 6000 / 2000
    assert 'not timed: compile failed: X' in text
    assert '`python tools/analysis/benchmark.py c1 c2` (2026-11-25 20:00:00' \
        ' UTC to 2026-11-25 20:30:00 UTC): Some CPU' in text
    assert 'load before: 1.00, 0.50, 0.20, after: 2.00, 1.50, 1.20' in text
    page.write_text(f'<!-- table: benchmark {source} baseline=r50:'
                    f'fp16 -->\n<!-- end table -->\n')
    wrong = doc_tables(str(page))
    assert wrong.returncode == 1 and 'no row r50:fp16' in wrong.stderr


def test_model_zoo_table_comes_from_the_metafile(tmp_path):
    """Read with mmengine's metafile reader; links relative to the page."""
    pytest.importorskip('mmengine')
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'model-index.yml').write_text(
        'Import:\n- configs/metafile.yml\n')
    (tmp_path / 'configs' / 'metafile.yml').write_text(
        'Models:\n'
        '- Name: maskrcnn_fasternet_s_coco\n'
        '  Config: configs/maskrcnn_fasternet_s_coco.py\n'
        '  Metadata: {FLOPs: 265012345678, Parameters: 48987654}\n'
        '  Results:\n'
        '  - {Task: Object Detection, Dataset: COCO, '
        'Metrics: {box AP: 39.9}}\n'
        '  Weights: https://example.com/s.pth\n'
        '- Name: fpn_fasternet_t0_ade20k\n'
        '  Config: configs/fpn_fasternet_t0_ade20k.py\n'
        '  Metadata: {FLOPs: 23070000000, Parameters: 6370000}\n')
    spec = importlib.util.spec_from_file_location(
        'doc_tables', osp.join(ROOT, '.dev_scripts', 'doc_tables.py'))
    doc_tables_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(doc_tables_module)
    table = doc_tables_module.model_zoo_table(
        str(tmp_path / 'model-index.yml'), str(tmp_path / 'docs'))
    assert table.splitlines()[2:] == [
        '| [maskrcnn_fasternet_s_coco]'
        '(../configs/maskrcnn_fasternet_s_coco.py) | 48.99M | 265.0G '
        '| COCO box AP 39.9 | [model](https://example.com/s.pth) |',
        '| [fpn_fasternet_t0_ade20k](../configs/fpn_fasternet_t0_ade20k.py) '
        '| 6.37M | 23.1G | - | - |',
    ]


def test_a_missing_results_file_names_page_and_file(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('<!-- table: results benchmarks/none.json -->\n'
                    '<!-- end table -->\n')
    done = doc_tables(str(page))
    assert done.returncode == 1
    assert 'page.md' in done.stderr and 'none.json not found' in done.stderr
