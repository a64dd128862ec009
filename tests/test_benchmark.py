import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize('program, devices', [('addjax', 2), ('reference', 1)])
def test_command_line_times_a_program_against_the_ceiling_as_json(program, devices):
  """addjax runs on one CPU device per core (2 cores here, forced by affinity), the reference on one."""
  result = subprocess.run(
      ['taskset', '-c', '0,1', sys.executable, '-m', 'addjax.benchmark', '--config',
       str(ROOT / 'configs' / 'two_digits.py'), '--config.hidden_size=32', '--steps=20', '--repeats=2',
       '--matmul_size=256', f'--program={program}', '--json'],
      cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert result.returncode == 0, result.stderr
  report = json.loads(result.stdout.strip().splitlines()[-1])
  for key in ('examples_per_sec', 'model_gflops', 'ceiling_gflops', 'compile_sec', 'achieved_gflops'):
    assert report[key] > 0, key
  assert report['program'] == program and report['num_devices'] == devices
  assert report['achieved_gflops'] == pytest.approx(report['examples_per_sec'] * report['model_gflops'])
  assert f'{report["examples_per_sec"]:,.0f} examples/s' in result.stdout


def test_bad_benchmark_flags_end_in_one_line():
  result = subprocess.run([sys.executable, '-m', 'addjax.benchmark', '--config',
                           str(ROOT / 'configs' / 'two_digits.py'), '--steps=0'],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert len(result.stderr.strip().splitlines()) == 1 and 'must be integers >= 1' in result.stderr


@pytest.mark.parametrize('args, expected', [
    (['steps', '--batch_sizes', '4', '--repeats', '1'], r'batch 4: matmul [0-9.]+, no residuals [0-9.]+, '
                                                          r'residuals [0-9.]+, carry [0-9.]+, write [0-9.]+ ms'),
    (['devices', '--mode', 'psum', '--digits', '2', '--num_layers', '2', '--batch_size', '4', '--repeats', '1'],
     r'psum: digits 2, 2 layer\(s\), batch 4 per device, 2 device\(s\): [0-9.]+ ms per step'),
    (['devices', '--mode', 'two_programs', '--digits', '2', '--num_layers', '1', '--batch_size', '4',
      '--repeats', '1'], r'two_programs: digits 2, 1 layer\(s\), batch 4 per device, 2 device\(s\)'),
])
def test_loop_floor_times_the_pieces_and_the_device_layouts(args, expected):
  result = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'loop_floor.py')] + args, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert result.returncode == 0, result.stderr
  assert re.search(expected, result.stdout), result.stdout
