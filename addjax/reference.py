"""The straightforward Flax formulation of the seed's model, as a baseline for speed and a check of the fast path.

nn.RNN over nn.OptimizedLSTMCell with a real one-hot input and a real RepeatVector, plain autodiff, and a
training loop with one jitted call per batch fed from the host: what a Flax user writes first.
"""

from collections.abc import Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from addjax import data


class ReferenceAdditionLSTM(nn.Module):
  """Query token ids [batch, 2*digits+1] -> answer logits [batch, digits+1, vocab]."""
  digits: int
  hidden_size: int = 128
  num_layers: int = 1

  @nn.compact
  def __call__(self, queries: jax.Array) -> jax.Array:
    def lstm(name):
      return nn.RNN(nn.OptimizedLSTMCell(self.hidden_size, kernel_init=nn.initializers.glorot_uniform(),
                                         name=name))

    x = jax.nn.one_hot(queries, data.VOCAB_SIZE)
    encoded = lstm('encoder')(x)[:, -1]
    x = jnp.repeat(encoded[:, None], data.answer_length(self.digits), axis=1)
    for layer in range(self.num_layers):
      x = lstm(f'decoder_{layer}')(x)
    return nn.Dense(data.VOCAB_SIZE, name='output')(x)


def params_from_addjax(params: dict) -> dict:
  """Our Keras-layout parameters (fused [in, 4H] kernels, gates i, f, c, o) in OptimizedLSTMCell's layout."""

  def layer(p):
    kernels = jnp.split(p['kernel'], 4, axis=-1)
    recurrent = jnp.split(p['recurrence']['recurrent_kernel'], 4, axis=-1)
    biases = jnp.split(p['bias'], 4)
    cell = {}
    for gate, kernel, recurrent_kernel, bias in zip('ifgo', kernels, recurrent, biases):
      cell[f'i{gate}'] = {'kernel': kernel}
      cell[f'h{gate}'] = {'kernel': recurrent_kernel, 'bias': bias}
    return cell

  return {name: (layer(p) if name != 'output' else p) for name, p in params.items()}


def make_train_step(model: ReferenceAdditionLSTM, tx: optax.GradientTransformation):
  """One jitted call per batch: (params, opt_state, queries, answers) -> (params, opt_state, loss)."""

  def loss_fn(params, queries, answers):
    logits = model.apply({'params': params}, queries)
    return optax.softmax_cross_entropy_with_integer_labels(logits, answers.astype(jnp.int32)).mean()

  def train_step(params, opt_state, queries, answers):
    loss, grads = jax.value_and_grad(loss_fn)(params, queries, answers)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return jax.jit(train_step, donate_argnums=(0, 1))


def batches(queries: np.ndarray, answers: np.ndarray, batch_size: int,
            rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """Host-side shuffled batches, the last partial one dropped (so one compiled shape)."""
  order = rng.permutation(len(queries))
  for start in range(0, len(order) - batch_size + 1, batch_size):
    index = order[start:start + batch_size]
    yield queries[index], answers[index]
