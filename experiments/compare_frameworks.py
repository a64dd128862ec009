"""Training throughput of addjax, the straightforward Flax version, the seed's Keras model and PyTorch,
measured side by side on one machine in one run: round after round, each framework in its own process.

python experiments/compare_frameworks.py --config configs/five_digits.py --rounds 3 \
    --compare_python .venv-compare/bin/python        # a Python with TensorFlow and PyTorch (make compare-env)

Writes results/frameworks.json and results/frameworks.md. The ratios, not the absolute numbers, are the
claim: this machine is shared and noisy, and every round sees the same noise in every framework.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_json(command: list[str]) -> dict:
  env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL='3')
  result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
  return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--config', default='configs/five_digits.py')
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--steps', type=int, default=300, help='Training steps per timed repeat.')
  parser.add_argument('--compare_python', default=str(ROOT / '.venv-compare' / 'bin' / 'python'))
  parser.add_argument('--out', default=str(ROOT / 'results' / 'frameworks'))
  args = parser.parse_args()

  bench = [sys.executable, '-m', 'addjax.benchmark', '--config', args.config, '--reference', '--json',
           f'--steps={args.steps}', '--repeats=3']
  first = run_json(bench)
  digits, num_layers = first['digits'], first['num_layers']
  others = {name: [args.compare_python, str(ROOT / 'experiments' / 'frameworks' / f'{name}_addition.py'),
                   f'--digits={digits}', f'--num_layers={num_layers}', f'--steps={args.steps}', '--repeats=3']
            for name in ('keras', 'torch')}

  rates = {'addjax': [], 'flax_reference': [], 'keras': [], 'torch': []}
  versions = {}
  for round_index in range(args.rounds):
    ours = first if round_index == 0 else run_json(bench)
    rates['addjax'].append(ours['examples_per_sec'])
    rates['flax_reference'].append(ours['reference_examples_per_sec'])
    for name, command in others.items():
      report = run_json(command)
      rates[name].append(report['examples_per_sec'])
      versions[name] = report['version']
    print(f'round {round_index + 1}: ' + ', '.join(f'{k} {v[-1]:,.0f}' for k, v in rates.items()), flush=True)

  median = {name: statistics.median(values) for name, values in rates.items()}
  result = {
      'machine': f'{platform.machine()}, {os.cpu_count()} cores ({platform.processor() or "cpu"})',
      'config': args.config, 'digits': digits, 'num_layers': num_layers, 'batch_size': first['batch_size'],
      'rounds': args.rounds, 'examples_per_sec_median': median, 'examples_per_sec_rounds': rates,
      'addjax_speedup': {name: median['addjax'] / median[name] for name in median if name != 'addjax'},
      'model_gflops': first['model_gflops'], 'ceiling_gflops': first['ceiling_gflops'],
      'versions': versions,
  }
  os.makedirs(os.path.dirname(args.out), exist_ok=True)
  with open(f'{args.out}.json', 'w') as f:
    json.dump(result, f, indent=2)
  lines = [f'Training examples/s, {digits} digits, {num_layers} decoder layer(s), batch {first["batch_size"]}, '
           f'median of {args.rounds} interleaved rounds on {result["machine"]}.', '',
           '| framework | examples/s | addjax is |', '|---|---|---|']
  names = {'addjax': 'addjax (fused LSTM, a compiled call per chunk)',
           'flax_reference': 'Flax nn.RNN(OptimizedLSTMCell), a jitted call per batch',
           'keras': f'Keras {versions.get("keras", "")} (the seed\'s model and fit)',
           'torch': f'PyTorch {versions.get("torch", "")} nn.LSTM'}
  for name, label in names.items():
    ratio = '-' if name == 'addjax' else f'{result["addjax_speedup"][name]:.2f}x faster'
    lines.append(f'| {label} | {median[name]:,.0f} | {ratio} |')
  with open(f'{args.out}.md', 'w') as f:
    f.write('\n'.join(lines) + '\n')
  print('\n'.join(lines))


if __name__ == '__main__':
  main()
