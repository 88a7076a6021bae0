"""Try torch's dynamo-based ONNX exporter on a config's exportable model and
report how it ends (docs/deployment.md, "Which exporter, and why").

pytorch2onnx.py uses the TorchScript-based exporter; this tool reproduces
the comparison: python .dev_scripts/try_dynamo_export.py CONFIG
"""
import argparse
import time

import torch

from mmfasternet.apis import run_cli
from mmfasternet.apis.runner import load_config
from mmfasternet.deploy.export import exportable_model, prepare_for_export
from mmfasternet.deploy.ops import onnxscript_translations
from mmfasternet.models import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[128, 128])
    parser.add_argument('--out', default='dynamo.onnx')
    args = parser.parse_args()
    torch.manual_seed(0)
    model = prepare_for_export(build_model(load_config(args.config), None))
    module, names = exportable_model(model)
    start = time.perf_counter()
    try:
        torch.onnx.export(module, (torch.randn(1, 3, *args.shape), ),
                          args.out, dynamo=True, output_names=names,
                          custom_translation_table=onnxscript_translations())
    except Exception as error:  # the outcome is what this tool reports
        summary = [line for line in str(error).splitlines()
                   if 'Could not' in line or 'Caused by' in line]
        print(f'dynamo export failed after '
              f'{time.perf_counter() - start:.0f} s: '
              f'{type(error).__name__}: {" ".join(summary)}')
        return
    print(f'dynamo export wrote {args.out} in '
          f'{time.perf_counter() - start:.0f} s')


if __name__ == '__main__':
    run_cli(main)
