"""What every command line of addjax shares: a user's mistake ends in one line on stderr and exit status 2."""

import logging as std_logging
import sys
import traceback
from typing import Any

from absl import logging


def usage_error(message: str) -> None:
  """A mistake the user can fix: one line on stderr, exit status 2, no traceback."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def one_line(error: BaseException) -> str:
  """An error's message on one line: its first line and, for a wrapped traceback, the last (the cause)."""
  text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  if not lines:
    return type(error).__name__
  return lines[0] if len(lines) == 1 else f'{lines[0]} {lines[-1]}'


def quiet_logs() -> None:
  """A command's logging: warnings and up, but none of Orbax's errors or their echoes.

  Orbax logs every file it reads or writes at INFO, and a failed write as errors with tracebacks from each of
  its threads; the same failure reaches the command as an exception, which it reports in one line. After
  such a failure, tensorstore still completes the save's other writes, whose errors asyncio logs as never
  retrieved, and calls back into the event loop that Orbax has closed already, which Python reports as an
  unraisable 'Event loop is closed'.
  """
  logging.set_verbosity(logging.WARNING)
  for logger in (logging.get_absl_logger(), std_logging.getLogger('asyncio')):
    if _not_from_orbax not in logger.filters:
      logger.addFilter(_not_from_orbax)
  sys.unraisablehook = _without_closed_loop_callbacks


_NEVER_RETRIEVED = ('Future exception was never retrieved', 'Task exception was never retrieved')


def _not_from_orbax(record: std_logging.LogRecord) -> bool:
  """False for a record that Orbax logged, that carries an error raised in Orbax's code, or that is asyncio's
  report of a future whose error nobody read: in addjax's commands only Orbax's writes run on asyncio, and
  their errors (often raised in tensorstore's code, with no Orbax frame to recognise) reach the command.
  """
  if record.name == 'asyncio' and record.getMessage().startswith(_NEVER_RETRIEVED):
    return False
  files = [record.pathname]
  if record.exc_info and record.exc_info[2]:
    files += [frame.filename for frame in traceback.extract_tb(record.exc_info[2])]
  return not any('/orbax/' in name.replace('\\', '/') for name in files)


def _without_closed_loop_callbacks(unraisable: Any) -> None:
  error = unraisable.exc_value
  if isinstance(error, RuntimeError) and str(error) == 'Event loop is closed':
    return
  sys.__unraisablehook__(unraisable)
