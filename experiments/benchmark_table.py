"""Throughput of every experiment config against the straightforward Flax version and the machine's ceiling.

python experiments/benchmark_table.py [--configs two_digits three_digits ...] [--steps 200] [--repeats 3]

Runs `python -m addjax.benchmark --reference --json` per config (each in its own process, ours and the
reference interleaved inside it) and writes results/benchmarks.json and results/benchmarks.md.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = ('two_digits', 'three_digits', 'four_digits', 'five_digits', 'fourteen_digits', 'twentyone_digits',
           'two_digits_fast', 'three_digits_fast', 'five_digits_fast')


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--configs', nargs='+', default=list(CONFIGS))
  parser.add_argument('--steps', type=int, default=200)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--out', default=str(ROOT / 'results' / 'benchmarks'))
  args = parser.parse_args()

  rows = []
  for name in args.configs:
    command = [sys.executable, '-m', 'addjax.benchmark', '--config', str(ROOT / 'configs' / f'{name}.py'),
               '--reference', '--json', f'--steps={args.steps}', f'--repeats={args.repeats}']
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    row = {'config': name, **json.loads(result.stdout.strip().splitlines()[-1])}
    rows.append(row)
    print(f'{name}: {row["examples_per_sec"]:,.0f} examples/s, {row["speedup_vs_reference"]:.2f}x the reference',
          flush=True)

  machine = f'{platform.machine()}, {os.cpu_count()} cores, {rows[0]["platform"]} ({rows[0]["device"]})'
  os.makedirs(os.path.dirname(args.out), exist_ok=True)
  with open(f'{args.out}.json', 'w') as f:
    json.dump({'machine': machine, 'steps': args.steps, 'repeats': args.repeats, 'rows': rows}, f, indent=2)
  lines = [f'Steady-state training throughput on {machine}; median of {args.repeats} timed calls of '
           f'{args.steps} steps, addjax and the reference interleaved in one process per config. '
           'The reference is Flax nn.RNN over OptimizedLSTMCell with a jitted call per batch. GFLOP/s count '
           'the model\'s matmuls (forward and backward); the ceiling is a 2048x2048 fp32 matmul measured in the '
           'same process.', '',
           '| config | digits | layers | batch | MFLOP/example | addjax examples/s | reference examples/s | '
           'speedup | addjax GFLOP/s | ceiling GFLOP/s | of ceiling |',
           '|---|---|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["config"]} | {r["digits"]} | {r["num_layers"]} | {r["batch_size"]} | '
                 f'{r["model_gflops"] * 1e3:.2f} | {r["examples_per_sec"]:,.0f} | '
                 f'{r["reference_examples_per_sec"]:,.0f} | {r["speedup_vs_reference"]:.2f}x | '
                 f'{r["achieved_gflops"]:.1f} | {r["ceiling_gflops"]:.0f} | '
                 f'{100 * r["achieved_gflops"] / r["ceiling_gflops"]:.0f}% |')
  with open(f'{args.out}.md', 'w') as f:
    f.write('\n'.join(lines) + '\n')
  print('\n'.join(lines))


if __name__ == '__main__':
  main()
