"""What every command line of addjax shares: a user's mistake ends in one line on stderr and exit status 2."""

import sys


def usage_error(message: str) -> None:
  """A mistake the user can fix: one line on stderr, exit status 2, no traceback."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def one_line(error: Exception) -> str:
  """An error's message on one line: its first line and, for a wrapped traceback, the last (the cause)."""
  text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  if not lines:
    return type(error).__name__
  return lines[0] if len(lines) == 1 else f'{lines[0]} {lines[-1]}'
