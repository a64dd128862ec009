"""The command lines' logging: Orbax's errors and their echoes are dropped, every other warning kept."""

import asyncio
import gc
import logging
import sys

import pytest
from absl import logging as absl_logging

from addjax import cli


@pytest.fixture
def asyncio_records(monkeypatch):
  """The records that reach a handler on asyncio's logger once cli.quiet_logs has run; what it set is undone."""
  monkeypatch.setattr(sys, 'unraisablehook', sys.unraisablehook)
  verbosity = absl_logging.get_verbosity()
  cli.quiet_logs()
  records = []
  handler = logging.Handler()
  handler.emit = records.append
  logger = logging.getLogger('asyncio')
  logger.addHandler(handler)
  yield records
  logger.removeHandler(handler)
  for quieted in (logger, absl_logging.get_absl_logger()):
    quieted.removeFilter(cli._not_from_orbax)
  absl_logging.set_verbosity(verbosity)


def _fail(loop: asyncio.AbstractEventLoop, error: Exception) -> asyncio.Future:
  future = loop.create_future()
  future.set_exception(error)
  return future


def test_a_write_error_nobody_retrieved_is_not_reported_again(asyncio_records):
  # As tensorstore's writes fail on a full disk: an error raised outside Orbax's code, left in a future.
  loop = asyncio.new_event_loop()
  future = _fail(loop, ValueError("OUT_OF_RANGE: Error writing file: [OS error 28: No space left on device]"))
  del future
  gc.collect()
  loop.close()
  assert asyncio_records == []


def test_other_asyncio_errors_are_kept(asyncio_records):
  loop = asyncio.new_event_loop()
  loop.call_exception_handler({'message': 'Exception in callback', 'exception': RuntimeError('boom')})
  loop.close()
  assert [record.getMessage() for record in asyncio_records] == ['Exception in callback']
