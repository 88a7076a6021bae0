"""Demo helpers: save an untrained checkpoint (the baseline to evaluate) or
plot the training loss curve of a work dir."""
import argparse

from mmfasternet.demo import plot_loss_curve, save_untrained_checkpoint
from mmfasternet.engine.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    untrained = commands.add_parser('untrained', help='save initial weights')
    untrained.add_argument('config')
    untrained.add_argument('out', help='checkpoint file to write')
    curve = commands.add_parser('loss-curve', help='plot training losses')
    curve.add_argument('work_dir')
    curve.add_argument('out', help='PNG file to write')
    args = parser.parse_args()
    if args.command == 'untrained':
        print(save_untrained_checkpoint(args.config, args.out))
    else:
        print(plot_loss_curve(args.work_dir, args.out))


if __name__ == '__main__':
    run_cli(main)
