"""Timing whole models from configs: the entries a command asks for, the
interleaved run, and its report (tables, results files, plot)."""
from typing import List, Optional, Sequence, Tuple

from ..analysis.benchmark import (BenchmarkSpec, config_label, format_parts,
                                  format_results, plot_latency_against_params,
                                  plot_results, run_benchmark, write_results)
from ..analysis.forms import parse_form
from ..analysis.machine import command_line, describe, load, now
from ..deploy.precision import check_precision
from ..errors import InputError


def benchmark_specs(configs: Sequence[str], forms: Sequence[str],
                    backends: Sequence[str] = ('pytorch', ),
                    precisions: Sequence[str] = ('fp32', ),
                    backbone_only: bool = False
                    ) -> Tuple[List[BenchmarkSpec], List[str]]:
    """The entries to time (each PyTorch form, each runtime in each
    precision, for each config), and a line for each runtime and precision
    this CPU cannot run (left out, not failed)."""
    parsed = [parse_form(name) for name in forms]
    specs, left_out = [], []

    def runs_in(backend: str, precision: str, config: str) -> bool:
        try:
            check_precision(backend, 'fp32' if precision == 'int8'
                            else precision)
        except InputError as refusal:
            left_out.append(f'left out: {config_label(config)} '
                            f'{backend}_{precision}: {refusal}')
            return False
        return True

    for config in configs:
        for backend in backends:
            if backend == 'pytorch':
                specs += [BenchmarkSpec(config, form, backbone_only)
                          for form in parsed]
            else:
                specs += [BenchmarkSpec(config, backbone_only=backbone_only,
                                        backend=backend, precision=precision)
                          for precision in precisions
                          if runs_in(backend, precision, config)]
    return specs, left_out


def benchmark(specs: Sequence[BenchmarkSpec], left_out: Sequence[str] = (),
              device: str = 'cpu', batch: int = 1,
              shape: Optional[Tuple[int, int]] = None, repeat: int = 10,
              warmup: int = 2, parts: bool = False,
              detections: Optional[int] = None,
              cfg_options: Optional[dict] = None,
              export_dir: Optional[str] = None, out: Optional[str] = None,
              plot: Optional[str] = None) -> list:
    """Time ``specs`` interleaved and print the tables. With ``out`` (.csv
    or .json) the results, a ``.txt`` of the printed report (command, date,
    machine, load, left-out entries) and, with ``parts``, ``X_parts.csv``
    are written after every round, so a run stopped early keeps the rounds
    it finished; ``plot`` names a PNG of latency and GFLOP/s (see
    :func:`write_plots`)."""
    header = [f'command: {command_line()}', f'started: {now()}',
              f'load before: {load()}'] + describe(device) + list(left_out)
    print('\n'.join(header))
    rounds = []

    def write(results) -> List[str]:
        footer = [f'rounds done: {len(rounds)} of {repeat}, finished: '
                  f'{now()}', f'load after: {load()}']
        tables = [format_results(results), format_parts(results)]
        report = '\n\n'.join(['\n'.join(header)] + [t for t in tables if t]
                             + ['\n'.join(footer)])
        written = write_results(results, out)
        text = out.rsplit('.', 1)[0] + '.txt'
        with open(text, 'w') as f:
            f.write(report + '\n')
        return written + [text] + write_plots(results, plot)

    def after_round(results) -> None:
        rounds.append(1)
        if out:
            write(results)

    try:
        results = run_benchmark(
            specs, device, batch, shape, repeat, warmup, parts=parts,
            detections=detections, cfg_options=cfg_options,
            export_dir=export_dir, after_round=after_round)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
    footer = [f'finished: {now()}', f'load after: {load()}']
    tables = [format_results(results), format_parts(results)]
    print('\n\n'.join([t for t in tables if t] + ['\n'.join(footer)]))
    if out:
        print('wrote ' + ', '.join(write(results)))
    elif plot:
        write_plots(results, plot)
    return results


def write_plots(results, plot: Optional[str]) -> List[str]:
    """``plot`` (latency and GFLOP/s per entry) and beside it
    ``<stem>_params.png`` (latency against parameters, a panel per form);
    the paths written."""
    if not plot:
        return []
    params_plot = plot.rsplit('.', 1)[0] + '_params.png'
    plot_results(results, plot)
    plot_latency_against_params(results, params_plot)
    return [plot, params_plot]
