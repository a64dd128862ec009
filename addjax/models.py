"""The seed's Keras model in Flax Linen: LSTM encoder, RepeatVector, stacked LSTM decoder, Dense softmax.

Each LSTM layer keeps Keras' parameters and initialisation (glorot-uniform input kernel, orthogonal
recurrent kernel, zero bias but 1 for the forget gate; gates in Keras' order i, f, c, o), so parameter
counts match Keras and the reproduction starts where the seed started. The input projection is taken out
of the recurrence: inside nn.scan only h @ U and the gate arithmetic remain.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from addjax import data


def keras_lstm_bias_init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """Zeros, with the forget gate's quarter at 1 (Keras' unit_forget_bias)."""
  del key
  hidden_size = shape[0] // 4
  return jnp.zeros(shape, dtype).at[hidden_size:2 * hidden_size].set(1.0)


class LSTMRecurrence(nn.Module):
  """One time step given the step's input projection x_t @ W + b; scanned over time by nn.scan."""
  hidden_size: int

  @nn.compact
  def __call__(self, carry: tuple[jax.Array, jax.Array],
               projected_input: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
    h, c = carry
    recurrent_kernel = self.param('recurrent_kernel', nn.initializers.orthogonal(),
                                  (self.hidden_size, 4 * self.hidden_size))
    z = projected_input + h @ recurrent_kernel
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h


class LSTM(nn.Module):
  """A Keras LSTM layer returning the whole sequence of hidden states [batch, time, hidden].

  The input is one of three kinds, each projected in the cheapest way:
  - token ids [batch, time] (a one-hot input): the projection is a row gather of the kernel;
  - a sequence [batch, time, features]: one matmul for all steps;
  - a vector [batch, features] with `length` (Keras' RepeatVector): projected once, reused at every step.
  """
  hidden_size: int
  vocab_size: int | None = None  # Set for token-id inputs: the rows of the kernel.

  @nn.compact
  def __call__(self, inputs: jax.Array, length: int | None = None) -> jax.Array:
    num_inputs = self.vocab_size if self.vocab_size is not None else inputs.shape[-1]
    kernel = self.param('kernel', nn.initializers.glorot_uniform(), (num_inputs, 4 * self.hidden_size))
    bias = self.param('bias', keras_lstm_bias_init, (4 * self.hidden_size,))

    if self.vocab_size is not None:
      projected = jnp.take(kernel, inputs.astype(jnp.int32), axis=0) + bias
      time_axis, length = 1, inputs.shape[1]
    elif length is not None:
      projected = inputs @ kernel + bias
      time_axis = nn.broadcast
    else:
      projected = inputs @ kernel + bias
      time_axis, length = 1, inputs.shape[1]

    scan = nn.scan(LSTMRecurrence, variable_broadcast='params', split_rngs={'params': False},
                   in_axes=time_axis, out_axes=1, length=length)
    zeros = jnp.zeros((inputs.shape[0], self.hidden_size), projected.dtype)
    _, hidden_states = scan(self.hidden_size, name='recurrence')((zeros, zeros), projected)
    return hidden_states


class AdditionLSTM(nn.Module):
  """Query token ids [batch, 2*digits+1] -> answer logits [batch, digits+1, vocab]."""
  digits: int
  hidden_size: int = 128
  num_layers: int = 1

  @nn.compact
  def __call__(self, queries: jax.Array) -> jax.Array:
    encoded = LSTM(self.hidden_size, vocab_size=data.VOCAB_SIZE, name='encoder')(queries)[:, -1]
    x = LSTM(self.hidden_size, name='decoder_0')(encoded, length=data.answer_length(self.digits))
    for layer in range(1, self.num_layers):
      x = LSTM(self.hidden_size, name=f'decoder_{layer}')(x)
    # Logits; the softmax is folded into the cross-entropy and the argmax.
    return nn.Dense(data.VOCAB_SIZE, kernel_init=nn.initializers.glorot_uniform(), name='output')(x)


def from_config(config) -> AdditionLSTM:
  return AdditionLSTM(digits=config.digits, hidden_size=config.hidden_size, num_layers=config.num_layers)
