"""The seed's Keras model and loop, timed: steady-state training examples/s of model.fit at batch 32.

Run with a Python that has TensorFlow (make compare-env); prints one JSON line.
"""

import argparse
import json
import time

import numpy as np
from tensorflow import keras

from addjax import data


def one_hot(ids: np.ndarray) -> np.ndarray:
  return np.eye(data.VOCAB_SIZE, dtype=bool)[ids]


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument('--digits', type=int, default=5)
  parser.add_argument('--num_layers', type=int, default=1)
  parser.add_argument('--batch_size', type=int, default=32)
  parser.add_argument('--steps', type=int, default=300)
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()

  num_examples = args.steps * args.batch_size
  queries, answers = data.generate(num_examples, args.digits, seed=0)
  x, y = one_hot(queries), one_hot(answers)

  # The seed's model, layer for layer.
  model = keras.Sequential()
  model.add(keras.Input((data.query_length(args.digits), data.VOCAB_SIZE)))
  model.add(keras.layers.LSTM(128))
  model.add(keras.layers.RepeatVector(data.answer_length(args.digits)))
  for _ in range(args.num_layers):
    model.add(keras.layers.LSTM(128, return_sequences=True))
  model.add(keras.layers.Dense(data.VOCAB_SIZE, activation='softmax'))
  model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])

  model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)  # Warm-up: tracing and compilation.
  rates = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
    rates.append(num_examples / (time.perf_counter() - start))
  print(json.dumps({'framework': 'keras', 'version': keras.__version__, 'params': model.count_params(),
                    'examples_per_sec': float(np.median(rates)), 'examples_per_sec_all': rates}))


if __name__ == '__main__':
  main()
