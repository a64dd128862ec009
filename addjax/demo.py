"""A local page to try a trained run.

  python -m addjax.demo --workdir W [--step N] [--model_seed S] [--port P]

Serves, on 127.0.0.1 only, a page with two boxes; the model's answer appears next to the true sum. The page
asks GET /api/predict?a=535&b=61, which answers {"problem", "prediction", "sum", "correct"} through
addjax.inference, or {"error"} with status 400 for input the run cannot take; the server is the standard
library's. Of a run trained with --config.num_seeds=K, --model_seed picks the model that answers (default:
the first; see addjax.inference).
"""

import html
import http.server
import json
import re
import socketserver
import urllib.parse
from typing import Any

from absl import app
from absl import flags
from absl import logging

from addjax import cli
from addjax import inference

FLAGS = flags.FLAGS
HOST = '127.0.0.1'  # Never another interface: the page runs a model for whoever can reach it.

_NUMBER = re.compile(r'[0-9]+')  # ASCII digits only, as data.parse_problem.

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>addjax: {title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }}
  input {{ font: inherit; width: 7em; padding: .3em; }}
  button {{ font: inherit; padding: .3em 1em; }}
  table {{ margin-top: 1.5rem; border-collapse: collapse; }}
  td, th {{ padding: .3em 1em .3em 0; text-align: left; }}
  .right {{ color: #176f2c; }} .wrong {{ color: #b00020; }}
  #error {{ color: #b00020; min-height: 1.5em; }}
  .note {{ color: #666; }}
</style>
</head>
<body>
<h1>Adding with an LSTM</h1>
<p class="note">{title}: two numbers of up to {digits} digits each.</p>
<form id="form" autocomplete="off">
  <input id="a" name="a" inputmode="numeric" aria-label="first number" autofocus>
  +
  <input id="b" name="b" inputmode="numeric" aria-label="second number">
  <button id="submit" type="submit">=</button>
</form>
<p id="error" role="alert"></p>
<table>
  <tr><th>problem</th><td id="problem"></td></tr>
  <tr><th>model's answer</th><td id="prediction"></td></tr>
  <tr><th>true sum</th><td id="sum"></td></tr>
  <tr><th></th><td id="verdict"></td></tr>
</table>
<script>
const form = document.getElementById('form');
const fields = ['problem', 'prediction', 'sum', 'verdict', 'error'];
function show(values) {{
  for (const name of fields) document.getElementById(name).textContent = values[name] || '';
}}
form.addEventListener('submit', async (event) => {{
  event.preventDefault();
  show({{}});
  const query = new URLSearchParams({{a: form.a.value, b: form.b.value}});
  try {{
    const response = await fetch('/api/predict?' + query);
    const body = await response.json();
    if (body.error) {{
      show({{error: body.error}});
    }} else {{
      show({{...body, verdict: body.correct ? 'right' : 'wrong'}});
      document.getElementById('verdict').className = body.correct ? 'right' : 'wrong';
    }}
  }} catch (error) {{
    show({{error: 'no answer from the server: ' + error}});
  }}
  // A count of answers shown, so that a script driving the page knows when this one is in.
  document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
}});
</script>
</body>
</html>
"""


def answer(run: inference.Run, a: str, b: str) -> dict[str, Any]:
  """inference.record for the two boxes' texts; raises inference.InputError naming the box that is wrong."""
  digits = run.config.digits
  accepted = f'a whole number of up to {digits} digit{"s" if digits > 1 else ""} 0-9'
  for name, text in (('first', a), ('second', b)):
    if not text.strip():
      raise inference.InputError(f'the {name} number is empty: type {accepted}')
    if _NUMBER.fullmatch(text.strip()) is None:
      raise inference.InputError(f'the {name} number {text!r} is not {accepted}')
  problem, = inference.parse_problems([f'{a.strip()}+{b.strip()}'], digits)
  return inference.record(problem, run.answers([problem])[0])


class Handler(http.server.BaseHTTPRequestHandler):
  """GET / is the page, GET /api/predict?a=..&b=.. the answer; anything else 404."""
  run: inference.Run  # Set on the subclass make_server builds.

  def do_GET(self) -> None:
    url = urllib.parse.urlsplit(self.path)
    if url.path == '/':
      title = html.escape(f'{self.run.workdir}, step {self.run.step}, model seed {self.run.model_seed}')
      self._send(200, 'text/html; charset=utf-8', PAGE.format(title=title, digits=self.run.config.digits))
    elif url.path == '/api/predict':
      query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
      try:
        body, status = answer(self.run, query.get('a', [''])[0], query.get('b', [''])[0]), 200
      except inference.InputError as e:
        body, status = {'error': str(e)}, 400
      except Exception as e:  # One bad request must not take the page down.
        logging.exception('prediction failed')
        body, status = {'error': f'the model failed on this input: {cli.one_line(e)}'}, 500
      self._send(status, 'application/json', json.dumps(body))
    else:
      self._send(404, 'application/json', json.dumps({'error': f'no page {url.path}; try /'}))

  def _send(self, status: int, content_type: str, text: str) -> None:
    payload = text.encode('utf-8')
    self.send_response(status)
    self.send_header('Content-Type', content_type)
    self.send_header('Content-Length', str(len(payload)))
    self.send_header('Cache-Control', 'no-store')
    self.end_headers()
    self.wfile.write(payload)

  def log_message(self, format: str, *args: Any) -> None:  # http.server's signature.
    del format, args  # One line per request would bury the address line; errors go through logging.


def make_server(run: inference.Run, port: int) -> socketserver.TCPServer:
  """A threaded server on 127.0.0.1:port (0 picks a free port: see server.server_address)."""
  handler = type('RunHandler', (Handler,), {'run': run})
  server = http.server.ThreadingHTTPServer((HOST, port), handler)
  server.daemon_threads = True
  return server


def define_flags() -> None:
  """The flags of this command; called only when it runs, so importing the module defines none."""
  inference.define_run_flags()
  flags.DEFINE_integer('port', 8000, 'Port on 127.0.0.1; 0 picks a free one.', lower_bound=0,
                       upper_bound=65535)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.usage_error(f'unexpected arguments {argv[1:]}; accepted: --workdir DIR [--step N] [--model_seed S] '
                    '[--port P]')
  run = inference.load_from_flags()
  try:
    server = make_server(run, FLAGS.port)
  except OSError as e:
    cli.usage_error(f'cannot listen on {HOST}:{FLAGS.port}: {e.strerror}; choose another --port '
                        '(0 picks a free one)')
  run.answers([(0, 0)])  # Compile now, so the first visitor does not wait for it.
  host, port = server.server_address[:2]
  print(f'serving {run.workdir} (step {run.step}, model seed {run.model_seed}) at http://{host}:{port}/ ; '
        'Ctrl-C stops', flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()


if __name__ == '__main__':
  define_flags()
  app.run(main, flags_parser=inference.parse_flags)
