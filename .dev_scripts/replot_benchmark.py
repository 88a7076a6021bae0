"""Draw a benchmark's plots again from its results CSV (what
``tools/analysis/benchmark.py --out X.csv --plot X.png`` writes), e.g. for a
run made before the latency-against-parameters plot existed:

    python .dev_scripts/replot_benchmark.py benchmarks/X.csv benchmarks/X.png
"""
import argparse

from mmfasternet.analysis.benchmark import read_results
from mmfasternet.apis.benchmark import write_plots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', help='results .csv of benchmark.py')
    parser.add_argument('plot', help='PNG to write (and <stem>_params.png)')
    args = parser.parse_args()
    print('wrote ' + ', '.join(write_plots(read_results(args.results),
                                           args.plot)))


if __name__ == '__main__':
    main()
