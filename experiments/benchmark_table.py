"""Training throughput of addjax and its peers, side by side, over batch sizes and depths: one table, one run.

python experiments/benchmark_table.py [--rounds 3] [--compare_python .venv-compare/bin/python]
    [--peers addjax ...] [--settings 5,1,32 ...] [--config configs/five_digits.py] [--out results/benchmarks]

For each setting (digits, decoder layers, batch) the peers are timed one after another, each in a process of
its own, round after round, and each peer's median over the rounds is reported:
- addjax: `python -m addjax.benchmark --program addjax` (the real training program, as addjax.main runs it);
  addjax_bf16 the same with `--config.matmul_dtype=bfloat16` (mixed precision);
- flax_naive: `--program reference` (nn.RNN over OptimizedLSTMCell, a jitted call per batch);
- torch_fp32: the seed's model in PyTorch (nn.LSTM), fp32; torch_bf16 the same under bf16 autocast;
  the two bf16 peers are timed only where bf16 can pay: a CPU with AMX, or a GPU;
- keras: the seed's Keras model and model.fit, at batch 32 (the seed's batch) only.
A peer whose Python lacks its framework is left out and named. --config is the config file the addjax peers
train (the seed's five_digits.py unless given; its digits, layers and batch set by each setting); the other
peers always time the seed's model. The machine, its load before the run, the cores the process may run on
(taskset pins it) and the in-process fp32 matmul ceiling are written beside the numbers, into
results/benchmarks.json and .md (or --out). Run it with nothing else on the machine.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs  # noqa: E402  (experiments/ is a folder of scripts, not a package)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SETTINGS = ((5, 1, 32), (5, 1, 256), (14, 3, 32), (14, 3, 128), (21, 5, 32), (21, 5, 256))
PEERS = ('addjax', 'addjax_bf16', 'flax_naive', 'torch_fp32', 'torch_bf16', 'keras')
# The ratios reported: like against like (fp32 against fp32, bf16 matmuls against bf16 autocast), and what
# addjax's bf16 matmuls buy over its fp32 ones.
RATIOS = (('addjax', 'flax_naive'), ('addjax', 'torch_fp32'), ('addjax', 'keras'), ('addjax_bf16', 'torch_bf16'),
          ('addjax_bf16', 'addjax'))
BF16_PEERS = ('addjax_bf16', 'torch_bf16')
# Examples per timed call, by digits: about a second of training on a 2-core CPU.
EXAMPLES_PER_CALL = {3: 16384, 5: 8192, 7: 4096, 9: 4096, 14: 2048, 21: 1024}
DEFAULT_CONFIG = ROOT / 'configs' / 'five_digits.py'


def cpu_model() -> tuple[str, bool]:
  """The CPU's model name and whether it has AMX (bf16 matrix tiles): where bf16 can pay on a CPU."""
  try:
    with open('/proc/cpuinfo') as f:
      text = f.read()
  except OSError:
    return platform.processor() or 'unknown CPU', False
  name = next((line.split(':', 1)[1].strip() for line in text.splitlines() if line.startswith('model name')),
              'unknown CPU')
  return name, 'amx_bf16' in text


def cores_line() -> str:
  """The cores this process may run on, out of the machine's."""
  total = os.cpu_count() or 1
  allowed = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else total
  return f'{total} cores' if allowed == total else f'{allowed} of {total} cores (pinned)'


def peer_command(peer: str, setting: tuple[int, int, int], compare_python: str, gpu: bool,
                 config: str = str(DEFAULT_CONFIG)) -> list[str] | None:
  """The command that times one peer at one (digits, layers, batch) setting, or None where it has no such run."""
  digits, layers, batch = setting
  steps = max(3, EXAMPLES_PER_CALL.get(digits, 2048) // batch)
  if peer in ('addjax', 'addjax_bf16', 'flax_naive'):
    bf16 = ['--config.matmul_dtype=bfloat16'] if peer == 'addjax_bf16' else []
    # The straightforward Flax version times the seed's model, whatever config the addjax peers train.
    program_config = str(DEFAULT_CONFIG) if peer == 'flax_naive' else config
    return [sys.executable, '-m', 'addjax.benchmark', '--config', program_config,
            f'--config.digits={digits}', f'--config.num_layers={layers}', f'--config.batch_size={batch}',
            f'--config.training_size={max(20_000, 4 * steps * batch)}', f'--steps={steps}', '--repeats=3',
            f'--program={"reference" if peer == "flax_naive" else "addjax"}', '--json'] + bf16
  if peer == 'keras' and batch != 32:
    return None
  framework = 'keras' if peer == 'keras' else 'torch'
  command = [compare_python, str(ROOT / 'experiments' / 'frameworks' / f'{framework}_addition.py'),
             f'--digits={digits}', f'--num_layers={layers}', f'--batch_size={batch}', f'--steps={steps}',
             '--repeats=3']
  if peer == 'torch_bf16':
    command.append('--bf16')
  if framework == 'torch' and gpu:
    command.append('--device=cuda')
  return command


def run_json(command: list[str]) -> dict | str:
  """The last JSON line the command prints, or its last line of error."""
  path = os.pathsep.join([str(ROOT)] + ([os.environ['PYTHONPATH']] if os.environ.get('PYTHONPATH') else []))
  env = dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL='3')
  result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
  if result.returncode != 0:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f'exit status {result.returncode}'
  return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--peers', nargs='+', default=list(PEERS), choices=PEERS)
  parser.add_argument('--settings', nargs='+', default=[','.join(map(str, s)) for s in SETTINGS],
                      help='digits,layers,batch triples')
  parser.add_argument('--compare_python', default=str(ROOT / '.venv-compare' / 'bin' / 'python'),
                      help='A Python with PyTorch and TensorFlow (make compare-env); the GPU machine\'s python3.')
  parser.add_argument('--gpu', action='store_true', help='Run PyTorch on CUDA (addjax uses any GPU it sees).')
  parser.add_argument('--config', default=str(DEFAULT_CONFIG), help='The config file the addjax peers train.')
  parser.add_argument('--out', default=str(ROOT / 'results' / 'benchmarks'))
  args = parser.parse_args()
  try:
    settings = [tuple(int(x) for x in s.split(',')) for s in args.settings]
  except ValueError:
    settings = []
  if args.rounds < 1:
    parser.error('--rounds takes a whole number >= 1')
  if not settings or any(len(s) != 3 or min(s) < 1 for s in settings):
    parser.error('--settings takes digits,layers,batch triples of whole numbers >= 1, such as 5,1,32')
  args.config = os.path.abspath(args.config)  # The peers run in the project's root.
  if not os.path.isfile(args.config):
    parser.error(f'--config {args.config}: no such file; give a config file such as configs/five_digits.py')

  cpu, has_amx = cpu_model()
  peers = [p for p in args.peers if p not in BF16_PEERS or has_amx or args.gpu]
  load = os.getloadavg()[0]
  rates = {s: {p: [] for p in peers} for s in settings}
  reports, failures = {}, {}
  for round_index in range(args.rounds):
    for setting in settings:
      for peer in peers:
        command = peer_command(peer, setting, args.compare_python, args.gpu, args.config)
        if command is None or peer in failures:
          continue
        report = run_json(command)
        if isinstance(report, str):
          failures[peer] = report
          continue
        rates[setting][peer].append(report['examples_per_sec'])
        reports[setting, peer] = report
      print(f'round {round_index + 1}, {setting}: ' + ', '.join(
          f'{p} {r[-1]:,.0f}' for p, r in rates[setting].items() if r), flush=True)
      write_table(args.out, settings, peers, rates, reports, failures, load, args.rounds, args.config)


def write_table(out: str, settings: list, peers: list[str], rates: dict, reports: dict, failures: dict,
                load: float, rounds: int, config: str = str(DEFAULT_CONFIG)) -> None:
  """results/benchmarks.json and .md from the rounds timed so far (rewritten after each setting)."""
  cpu, has_amx = cpu_model()
  ours = [r for (s, p), r in reports.items() if p == 'addjax']
  machine = (f'{cpu}, {cores_line()}{", AMX" if has_amx else ""}; '
             f'{ours[0]["platform"]} ({ours[0]["device"]})' if ours else cpu)
  rows = []
  for setting in settings:
    median = {p: statistics.median(v) for p, v in rates[setting].items() if v}
    if not median:
      continue
    row = {'digits': setting[0], 'num_layers': setting[1], 'batch_size': setting[2],
           'examples_per_sec': median, 'examples_per_sec_rounds': rates[setting]}
    if (setting, 'addjax') in reports:
      report = reports[setting, 'addjax']
      row.update(num_devices=report['num_devices'], model_gflops=report['model_gflops'],
                 achieved_gflops=median['addjax'] * report['model_gflops'],
                 ceiling_gflops=report['ceiling_gflops'])
    row['ratios'] = {f'{a} / {b}': median[a] / median[b] for a, b in RATIOS if a in median and b in median}
    rows.append(row)
  versions = {p: reports[s, p].get('version') for (s, p) in reports if 'version' in reports[s, p]}
  shown_config = runs.shown_path(config)
  result = {'machine': machine, 'config': shown_config, 'load_before': load, 'rounds': rounds, 'peers': peers,
            'left_out': failures, 'versions': versions, 'rows': rows}
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(f'{out}.json', 'w') as f:
    json.dump(result, f, indent=2)

  ratios = [f'{a} / {b}' for a, b in RATIOS if a in peers and b in peers]
  header = ' | '.join(['digits, layers, batch'] + peers + ratios + ['addjax GFLOP/s', 'of ceiling'])
  lines = [f'Training examples/s on {machine}; 1-minute load {load:.2f} before the run; median of '
           f'{rounds} interleaved rounds, each peer in a process of its own. GFLOP/s count the model\'s '
           'matmuls, forward and backward; the ceiling is a 2048x2048 fp32 matmul in addjax\'s process.'
           + ('' if os.path.abspath(config) == str(DEFAULT_CONFIG) else
              f' addjax trains {shown_config} (each setting\'s digits, layers and batch).')
           + (f' Left out: {"; ".join(f"{p} ({e})" for p, e in failures.items())}.' if failures else ''), '',
           f'| {header} |', '|' + '---|' * (header.count('|') + 1)]
  for row in rows:
    median = row['examples_per_sec']
    cells = [f'{row["digits"]}, {row["num_layers"]}, {row["batch_size"]}']
    cells += [f'{median[p]:,.0f}' if p in median else '-' for p in peers]
    cells += [f'{row["ratios"][r]:.2f}x' if r in row['ratios'] else '-' for r in ratios]
    cells += ([f'{row["achieved_gflops"]:.1f}', f'{100 * row["achieved_gflops"] / row["ceiling_gflops"]:.0f}% '
               f'of {row["ceiling_gflops"]:.0f}'] if 'achieved_gflops' in row else ['-', '-'])
    lines.append('| ' + ' | '.join(cells) + ' |')
  with open(f'{out}.md', 'w') as f:
    f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
  main()
