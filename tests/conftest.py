"""Shared fixtures: one tiny two-digit run, trained once per session by the real training code."""

import pathlib
import subprocess
import sys

import pytest

from addjax import config as config_lib
from addjax import train

ROOT = pathlib.Path(__file__).resolve().parent.parent


def tiny_run_config():
  """The two-digit data set and a small model: about 12 s to train (mostly compiling); ~0.9 val seq accuracy."""
  config = config_lib.base_config()
  config.digits = 2
  config.training_size = 5_000
  config.hidden_size = 64
  config.batch_size = 64
  config.learning_rate = 0.01
  config.num_epochs = 12
  config.eval_batch_size = 512
  config.num_samples_to_print = 0
  return config


@pytest.fixture(scope='session')
def trained_workdir(tmp_path_factory) -> pathlib.Path:
  """A workdir with config.json, metrics.jsonl and the checkpoints of epochs 10, 11 and 12. Do not write to it."""
  workdir = tmp_path_factory.mktemp('tiny_run')
  train.train_and_evaluate(tiny_run_config(), str(workdir))
  return workdir


def run_module(module: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
  """python -m addjax.<module> args, as a user runs it."""
  return subprocess.run([sys.executable, '-m', f'addjax.{module}', *args], cwd=ROOT, input=stdin,
                        capture_output=True, text=True, timeout=120)


def tree(path: pathlib.Path) -> dict[str, tuple[int, int]]:
  """Every file under path with its size and modification time: equal trees mean nothing was written."""
  return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
          for p in sorted(path.rglob('*'))} if path.exists() else {}
