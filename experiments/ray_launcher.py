"""--launcher ray: each (setting, seed) of a sweep or of the table becomes a task on a Ray cluster.

The task runs the command the local launcher runs (runs.train_command: `python -m addjax.main` into the run's
workdir, its output appended to train.log there), on whichever node Ray gives it, asking for --cpus_per_run CPUs
and --gpus_per_run GPUs. So the workdirs must be on storage that every node sees at the same path, and so must
the checkout (the configs and `addjax` come from it); see docs/scaling.md. metrics.jsonl is read back by the
driver as with the local launcher.

A task is retried (up to --max_retries times) when its worker or its node dies, and when the training process
is killed by a signal (the kernel's OOM killer, a preempted node's shutdown). Each attempt reruns the same
command, which resumes the run from its newest intact checkpoint. The training process dies with the worker
that started it, so a retried attempt never finds its workdir locked by an orphan of the one before. A run
that fails by itself (exit status 1: a diverged loss, a full disk) is reported as failed and not retried: its
rerun would fail the same way.
"""

import os
import socket
import subprocess
import sys
import time
from typing import Any

import ray

import runs
from addjax import workdir as workdir_lib

# `python -c _DIE_WITH_PARENT PPID -m addjax.main ...`: execs `python -m addjax.main ...` with PR_SET_PDEATHSIG
# set (Linux), which a process keeps across exec: SIGKILL when the worker that started it dies. Set in the
# child itself rather than through subprocess's preexec_fn, which is unsafe in a process with threads, as a
# Ray worker is. A parent gone before the setting took effect is caught by comparing its pid.
_DIE_WITH_PARENT = (
    'import ctypes, os, signal, sys\n'
    'parent, argv = int(sys.argv[1]), sys.argv[2:]\n'
    'prctl = getattr(ctypes.CDLL(None), "prctl", None)\n'
    'if prctl is not None:\n'
    '  prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n'
    'if os.getppid() != parent:\n'
    '  sys.exit("the Ray worker that started this run is gone")\n'
    'os.execv(sys.executable, [sys.executable, *argv])\n')


class RunKilledError(RuntimeError):
  """The training process died of a signal: Ray retries the task, which resumes the run."""


def train_task(command: list[str], cwd: str, path: str, env: dict[str, str]) -> dict[str, Any]:
  """One run, as a Ray task: the command in cwd, its output appended to path/train.log.

  Args:
    command: runs.train_command's `python -m addjax.main ...`; its Python is replaced by this worker's.
    cwd: the checkout, as every node sees it.
    path: the run's workdir.
    env: variables to set for the run, over the worker's environment.

  Returns:
    {'returncode', 'seconds', 'host', 'owner'}; owner names the process holding the workdir's lock when the
    run found it taken (exit status runs.USAGE_ERROR), else None.

  Raises:
    RunKilledError: the training process died of a signal.
  """
  start = time.time()
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, 'train.log'), 'a') as log:
    process = subprocess.Popen([sys.executable, '-c', _DIE_WITH_PARENT, str(os.getpid()), *command[1:]], cwd=cwd,
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})
    returncode = process.wait()
  if returncode < 0:
    raise RunKilledError(f'{path}: the training process on {socket.gethostname()} was killed by signal '
                         f'{-returncode}')
  owner = workdir_lib.lock_owner(path) if returncode == runs.USAGE_ERROR else None
  return {'returncode': returncode, 'seconds': time.time() - start, 'host': socket.gethostname(), 'owner': owner}


def run_env(gpus_per_run: float) -> dict[str, str]:
  """The environment a run needs beyond the worker's: with a share of a GPU, JAX's share of its memory.

  JAX takes 75% of a GPU's memory up front; runs sharing a GPU each take that fraction of their share.
  """
  if 0 < gpus_per_run < 1 and 'XLA_PYTHON_CLIENT_MEM_FRACTION' not in os.environ:
    return {'XLA_PYTHON_CLIENT_MEM_FRACTION': f'{0.75 * gpus_per_run:.3f}'}
  return {}


def run_all(root: str, jobs: list[tuple[runs.Setting, int]], address: str | None, cpus_per_run: float,
            gpus_per_run: float, max_retries: int) -> list[str]:
  """Trains every (setting, seed) not finished yet as a Ray task; returns when all have ended.

  Finished runs and runs whose workdir another process holds are skipped, and workdirs that hold a run of
  another config reported as failed without a task, as by runs.run_all.

  Args:
    root: the runs root, on storage every node sees.
    jobs: (setting, seed) pairs, submitted in this order.
    address: the cluster's address (host:port of the head, or 'auto'); None: RAY_ADDRESS, a cluster started
      on this machine, or else a Ray instance of this process alone.
    cpus_per_run: CPUs each task asks for.
    gpus_per_run: GPUs each task asks for (a fraction shares one).
    max_retries: attempts after the first, for a task whose worker, node or training process was killed.

  Returns:
    The workdirs whose run failed, or whose task failed on every attempt.
  """
  ray.init(address=address, log_to_driver=False)
  try:
    task = ray.remote(train_task).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries,
                                          retry_exceptions=[RunKilledError])
    env = run_env(gpus_per_run)
    submitted, failed = {}, []
    for setting, seed in jobs:
      path, config = runs.workdir(root, setting.name, seed), runs.seed_config(setting, seed)
      if runs.finished_records(config, path) is not None:
        print(f'{path}: finished, skipped', flush=True)
        continue
      owner = workdir_lib.lock_owner(path)
      if owner:
        print(f'{path}: running elsewhere ({owner}), skipped', flush=True)
        continue
      if (why := runs.other_run(config, path)) is not None:
        failed.append(path)
        print(f'{path}: FAILED, not started: {why}', flush=True)
        continue
      submitted[task.remote(runs.train_command(setting, seed, path), str(runs.ROOT), path, env)] = path
      print(f'{path}: submitted', flush=True)
    pending = list(submitted)
    while pending:
      [ref], pending = ray.wait(pending, num_returns=1)
      path = submitted[ref]
      try:
        result = ray.get(ref)
      except ray.exceptions.RayError as e:
        failed.append(path)
        print(f'{path}: FAILED after {max_retries + 1} attempt(s): {str(e).strip().splitlines()[-1]}', flush=True)
        continue
      if result['owner']:
        print(f'{path}: running elsewhere ({result["owner"]}), skipped', flush=True)
      elif result['returncode']:
        failed.append(path)
        print(f'{path}: FAILED (exit {result["returncode"]}) on {result["host"]}, see {path}/train.log',
              flush=True)
      else:
        print(f'{path}: done in {result["seconds"]:.0f} s on {result["host"]}', flush=True)
    return failed
  finally:
    ray.shutdown()
