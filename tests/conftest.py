"""Shared fixtures: one tiny two-digit run, trained once per session by the real training code."""

import os
import pathlib
import signal
import subprocess
import sys
import time

# What addjax.main sets for a command, set for the runs these tests make in-process: before flax and orbax
# load scipy's OpenBLAS, whose spinning threads make the initialisers' QR slow on a busy machine.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import pytest

from addjax import config as config_lib
from addjax import train

ROOT = pathlib.Path(__file__).resolve().parent.parent


def config_with(**fields):
  """base_config() with these fields set: the tests' small configs."""
  config = config_lib.base_config()
  for name, value in fields.items():
    config[name] = value
  return config


def tiny_run_config():
  """The two-digit data set and a small model: about 12 s to train (mostly compiling); ~0.9 val seq accuracy."""
  return config_with(digits=2, training_size=5_000, hidden_size=64, batch_size=64, learning_rate=0.01,
                     num_epochs=12, eval_batch_size=512, num_samples_to_print=0)


@pytest.fixture(scope='session')
def trained_workdir(tmp_path_factory) -> pathlib.Path:
  """A workdir with config.json, metrics.jsonl and the checkpoints of epochs 10, 11 and 12. Do not write to it."""
  workdir = tmp_path_factory.mktemp('tiny_run')
  train.train_and_evaluate(tiny_run_config(), str(workdir))
  return workdir


@pytest.fixture(scope='session')
def two_seed_workdir(tmp_path_factory) -> pathlib.Path:
  """A num_seeds=2 run (seeds 0 and 1) of the tiny run's data: LSTM(32), 2 epochs. Do not write to it.

  Far from trained, so the two models answer differently; one session-wide run keeps the tests cheap.
  """
  config = tiny_run_config()
  config.num_seeds, config.num_epochs, config.hidden_size = 2, 2, 32
  workdir = tmp_path_factory.mktemp('two_seed_run')
  train.train_and_evaluate(config, str(workdir))
  return workdir


def run_module(module: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
  """python -m addjax.<module> args, as a user runs it."""
  return subprocess.run([sys.executable, '-m', f'addjax.{module}', *args], cwd=ROOT, input=stdin,
                        capture_output=True, text=True, timeout=120)


def tree(path: pathlib.Path) -> dict[str, tuple[int, int]]:
  """Every file under path with its size and modification time: equal trees mean nothing was written."""
  return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
          for p in sorted(path.rglob('*'))} if path.exists() else {}


def kill_after_lines(command: list[str], workdir: pathlib.Path, min_lines: int, delay: float,
                     timeout: float = 180) -> None:
  """Starts a training command and SIGKILLs it `delay` s after its metrics.jsonl has min_lines lines."""
  process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  metrics, deadline = workdir / 'metrics.jsonl', time.time() + timeout
  while time.time() < deadline and process.poll() is None:
    if metrics.exists() and len(metrics.read_text().splitlines()) >= min_lines:
      break
    time.sleep(0.01)
  time.sleep(delay)
  assert process.poll() is None, 'the run ended before it could be killed'
  process.send_signal(signal.SIGKILL)
  process.wait()
