"""The seed's model in PyTorch (nn.LSTM), timed: steady-state training examples/s.

nn.LSTM keeps two bias vectors per layer where Keras keeps one: 1,024 more parameters per layer, the same
function. --bf16 runs the forward under bf16 autocast (oneDNN's AMX kernels on a CPU that has them);
--device=cuda runs on a GPU (cuDNN's LSTM).

Run with a Python that has PyTorch (make compare-env); prints one JSON line.
"""

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from addjax import data


class AdditionLSTM(nn.Module):

  def __init__(self, digits: int, num_layers: int, hidden_size: int = 128):
    super().__init__()
    self.answer_length = data.answer_length(digits)
    self.encoder = nn.LSTM(data.VOCAB_SIZE, hidden_size, batch_first=True)
    self.decoder = nn.LSTM(hidden_size, hidden_size, num_layers=num_layers, batch_first=True)
    self.output = nn.Linear(hidden_size, data.VOCAB_SIZE)

  def forward(self, one_hot_queries: torch.Tensor) -> torch.Tensor:
    _, (h, _) = self.encoder(one_hot_queries)
    repeated = h[-1].unsqueeze(1).expand(-1, self.answer_length, -1)
    decoded, _ = self.decoder(repeated)
    return self.output(decoded)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument('--digits', type=int, default=5)
  parser.add_argument('--num_layers', type=int, default=1)
  parser.add_argument('--batch_size', type=int, default=32)
  parser.add_argument('--steps', type=int, default=300)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--bf16', action='store_true', help='bf16 autocast in the forward pass.')
  parser.add_argument('--device', default='cpu')
  args = parser.parse_args()
  device = torch.device(args.device)

  torch.manual_seed(0)
  queries, answers = data.generate(args.steps * args.batch_size, args.digits, seed=0)
  x = torch.nn.functional.one_hot(torch.from_numpy(queries.astype(np.int64)), data.VOCAB_SIZE).float().to(device)
  y = torch.from_numpy(answers.astype(np.int64)).to(device)
  model = AdditionLSTM(args.digits, args.num_layers).to(device)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
  loss_fn = nn.CrossEntropyLoss()

  def epoch() -> None:
    for start in range(0, len(x), args.batch_size):
      xb, yb = x[start:start + args.batch_size], y[start:start + args.batch_size]
      optimizer.zero_grad(set_to_none=True)
      with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
        logits = model(xb)
      loss = loss_fn(logits.float().reshape(-1, data.VOCAB_SIZE), yb.reshape(-1))
      loss.backward()
      optimizer.step()
    if device.type == 'cuda':
      torch.cuda.synchronize()

  epoch()  # Warm-up.
  rates = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    epoch()
    rates.append(len(x) / (time.perf_counter() - start))
  print(json.dumps({'framework': 'pytorch', 'version': torch.__version__, 'threads': torch.get_num_threads(),
                    'device': str(device), 'bf16': args.bf16,
                    'params': sum(p.numel() for p in model.parameters()),
                    'examples_per_sec': float(np.median(rates)), 'examples_per_sec_all': rates}))


if __name__ == '__main__':
  main()
