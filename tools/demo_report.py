"""Demo helpers: save an untrained checkpoint (the baseline to evaluate),
plot the training loss curve of a work dir, or collect the metrics of the
demo's test runs and the time of each stage into one results JSON."""
import argparse
import json

from mmfasternet.apis import run_cli
from mmfasternet.demo import (plot_loss_curve, save_untrained_checkpoint,
                              write_demo_results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    untrained = commands.add_parser('untrained', help='save initial weights')
    untrained.add_argument('config')
    untrained.add_argument('out', help='checkpoint file to write')
    curve = commands.add_parser('loss-curve', help='plot training losses')
    curve.add_argument('work_dir')
    curve.add_argument('out', help='PNG file to write')
    results = commands.add_parser(
        'results', help='metrics of named test runs and stage times as JSON')
    results.add_argument('out', help='JSON file to write')
    results.add_argument('--config', required=True)
    results.add_argument('--run', nargs=2, action='append', default=[],
                         metavar=('NAME', 'WORK_DIR'),
                         help='a tools/test.py run: its name and work dir')
    results.add_argument('--seconds', nargs=2, action='append', default=[],
                         metavar=('STAGE', 'SECONDS'))
    results.add_argument('--cmdline', default='', help='what was run')
    args = parser.parse_args()
    if args.command == 'untrained':
        print(save_untrained_checkpoint(args.config, args.out))
    elif args.command == 'loss-curve':
        print(plot_loss_curve(args.work_dir, args.out))
    else:
        written = write_demo_results(
            args.out, args.config, dict(args.run),
            {stage: float(s) for stage, s in args.seconds}, args.cmdline)
        print(json.dumps(written['metrics'], indent=1))
        print(f'written: {args.out}')


if __name__ == '__main__':
    run_cli(main)
