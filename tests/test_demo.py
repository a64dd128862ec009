"""demo: the JSON endpoint answers through predict and refuses bad input; a real headless Chromium uses the page."""

import json
import pathlib
import queue
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from addjax import demo
from addjax import inference
from conftest import ROOT

try:
  from selenium import webdriver
  from selenium.webdriver.chrome.service import Service
  from selenium.webdriver.common.by import By
  from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
  webdriver = None

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')


def get(url):
  """(status, body) of a GET; error statuses are answers too."""
  try:
    with urllib.request.urlopen(url, timeout=30) as response:
      return response.status, response.read().decode()
  except urllib.error.HTTPError as e:
    return e.code, e.read().decode()


@pytest.fixture(scope='module')
def server(trained_workdir):
  run = inference.load(str(trained_workdir))
  server = demo.make_server(run, 0)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield run, server
  server.shutdown()
  server.server_close()


def test_the_endpoint_answers_with_the_model_and_refuses_bad_input(server):
  run, server = server
  host, port = server.server_address[:2]
  assert host == '127.0.0.1'
  base = f'http://{host}:{port}'

  status, page = get(base + '/')
  assert status == 200 and '<form' in page and 'up to 2 digits' in page

  status, body = get(base + '/api/predict?a=%2012%20&b=34')
  assert status == 200
  assert json.loads(body) == inference.record((12, 34), run.answers([(12, 34)])[0])
  assert json.loads(body)['sum'] == '46'

  for a, b, fragment in [('1a', '2', "first number '1a'"), ('', '2', 'first number is empty'),
                         ('2', '123', "operand '123' has 3 digits"), ('2', '-1', "second number '-1'"),
                         ('1+2', '3', "first number '1+2'"), ('\u0661', '2', 'first number'),
                         ('2', '1.5', "second number '1.5'")]:
    status, body = get(base + '/api/predict?' + urllib.parse.urlencode({'a': a, 'b': b}))
    assert status == 400 and fragment in json.loads(body)['error'], (a, b, body)
  status, body = get(base + '/api/predict?a=7')  # No b at all.
  assert status == 400 and 'second number is empty' in json.loads(body)['error']
  assert get(base + '/favicon.ico')[0] == 404
  assert get(base + '/api/predict?a=1&b=2')[0] == 200  # Still serving after all that.


def start_demo(workdir: pathlib.Path) -> tuple[subprocess.Popen, str]:
  """python -m addjax.demo on a free port; returns the process and the page's address from its first line."""
  process = subprocess.Popen([sys.executable, '-m', 'addjax.demo', f'--workdir={workdir}', '--port=0'], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  lines = queue.Queue()
  threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
  try:
    line = lines.get(timeout=60)
  except queue.Empty:
    line = ''
  address = re.search(r'http://127\.0\.0\.1:[0-9]+/', line)
  if address is None:
    process.kill()
    pytest.fail(f'the demo did not start: {line!r} {process.stderr.read()}')
  return process, address[0]


def chromium(user_data_dir: pathlib.Path):
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  # No network beyond 127.0.0.1: no background fetches, no updates, no sync; a profile of its own.
  for arg in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
              '--disable-background-networking', '--disable-component-update', '--disable-sync',
              '--disable-dev-shm-usage', f'--user-data-dir={user_data_dir}'):
    options.add_argument(arg)
  # An explicit driver path: Selenium Manager would otherwise try to download one.
  return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@pytest.mark.skipif(webdriver is None, reason="selenium is not installed: pip install -e '.[test]'")
@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason='no chromium and chromedriver on PATH: '
                    'apt-get install chromium chromium-driver (.ci/run does)')
def test_a_person_types_two_numbers_in_a_real_browser(trained_workdir, tmp_path):
  process, url = start_demo(trained_workdir)
  driver = None
  try:
    driver = chromium(tmp_path / 'profile')
    driver.get(url)
    answered = 0

    def submit(a, b):
      nonlocal answered
      for name, text in (('a', a), ('b', b)):
        box = driver.find_element(By.ID, name)
        box.clear()
        box.send_keys(text)
      driver.find_element(By.ID, 'submit').click()
      answered += 1
      WebDriverWait(driver, 30).until(
          lambda d: d.find_element(By.TAG_NAME, 'body').get_attribute('data-answers') == str(answered))
      return {name: driver.find_element(By.ID, name).text for name in ('problem', 'prediction', 'sum', 'error')}

    expected = json.loads(get(url + 'api/predict?a=12&b=34')[1])['prediction']
    shown = submit('12', '34')
    assert shown == {'problem': '12+34', 'prediction': expected, 'sum': '46', 'error': ''}

    shown = submit('1a', '34')
    assert "first number '1a'" in shown['error'] and shown['prediction'] == shown['sum'] == ''

    shown = submit('99', '99')  # The page and the server carry on after bad input.
    assert shown['sum'] == '198' and shown['prediction'] and shown['error'] == ''
  finally:
    if driver is not None:
      driver.quit()
    process.terminate()
    process.wait(timeout=30)
