"""The seed's Keras model in Flax Linen: LSTM encoder, RepeatVector, stacked LSTM decoder, Dense softmax.

Each LSTM layer keeps Keras' parameters and initialisation (glorot-uniform input kernel, orthogonal
recurrent kernel, zero bias but 1 for the forget gate; gates in Keras' order i, f, c, o), so parameter
counts match Keras and the reproduction starts where the seed started. Six options leave the seed's model:
residual decoder layers (AdditionLSTM.residual), padding read before each query (AdditionLSTM.lead_in), a
bidirectional encoder (AdditionLSTM.bidirectional), an encoder that leaves each query's padding out
(AdditionLSTM.skip_padding), an encoder that reads several characters a step (AdditionLSTM.chars_per_step)
and chrono initialisation of the gates (chrono_lstm_bias_init, chrono_forget_lstm_bias_init), in every layer
or in the encoder alone (AdditionLSTM.encoder_bias_init).

Speed (the model is small, so time goes to the sequential recurrence): the input projections are taken out
of the recurrence, so inside the time loop only h @ U and the gate arithmetic remain; and with
lstm_impl='fused' each layer is one function with its own VJP (lstm_layer): its backward loop carries only
dh and dc, and the weights' gradients come from the saved sequences in one matmul afterwards (as cuDNN does),
which reads dz as it lies, neither sliced nor transposed. lstm_impl='scan' is the plain nn.scan with autodiff;
both have the same parameters and compute the same function. Activations are time-major inside the model.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from addjax import data

def keras_lstm_bias_init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """Zeros, with the forget gate's quarter at 1 (Keras' unit_forget_bias)."""
  del key
  hidden_size = shape[0] // 4
  return jnp.zeros(shape, dtype).at[hidden_size:2 * hidden_size].set(1.0)


def chrono_lstm_bias_init(max_steps: int, fraction: float = 1.0):
  """Chrono initialisation (Tallec & Ollivier, ICLR 2018) for an LSTM over sequences of `max_steps` steps.

  Each unit's forget bias is log(u), u ~ Uniform(1, max_steps - 1), and its input bias the opposite; the
  rest zero. A unit then starts out keeping its cell for about u steps: memories that span the whole
  sequence from the first step. Keras' constant forget bias of 1 keeps a cell for ~4 steps, so the
  gradient from an answer digit back to a query digit read 40 steps earlier starts ~0.73**40 = 3e-6 small.
  Measured here: over the first epochs of 21 digits it learnt more slowly than Keras' initialisation
  (configs/twentyone_digits_fast.py); at 14 digits (configs/fourteen_digits_fast.py's recipe, seed 0) it kept
  the units digit of the longest sums, the query's first character, which Keras' initialisation loses.
  """
  return _chrono_init(max_steps, balance_input=True, fraction=fraction)


def chrono_forget_lstm_bias_init(max_steps: int, fraction: float = 1.0):
  """Chrono's forget biases, log(u) with u ~ Uniform(1, max_steps - 1), and every other bias zero.

  The same memory spans as chrono_lstm_bias_init with Keras' input gates (bias 0, half open) instead of
  chrono's -log(u), which start a long-memory unit's input gate at 1 / (1 + u): a unit meant to keep its cell
  for 20 steps starts writing a twentieth of what it reads.
  """
  return _chrono_init(max_steps, balance_input=False, fraction=fraction)


def _chrono_init(max_steps: int, balance_input: bool, fraction: float):
  """Chrono's biases for the first round(fraction * units) units of the layer, Keras' for the rest."""
  def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    hidden_size = shape[0] // 4
    chrono = round(fraction * hidden_size)
    drawn = jnp.log(jax.random.uniform(key, (chrono,), dtype, 1.0, max(max_steps - 1, 2)))
    keras = jnp.ones((hidden_size - chrono,), dtype)
    inputs = jnp.concatenate([-drawn if balance_input else jnp.zeros_like(drawn), jnp.zeros_like(keras)])
    return jnp.concatenate([inputs, drawn, keras, jnp.zeros((2 * hidden_size,), dtype)])
  return init


# The LSTM's bias initialisers by name, each a function of the layer's sequence length and the fraction of
# its units that chrono initialises.
BIAS_INITS = {'keras': lambda max_steps, fraction: keras_lstm_bias_init, 'chrono': chrono_lstm_bias_init,
              'chrono_forget': chrono_forget_lstm_bias_init}


# ----------------------------------------------------------------------------------------------------------
# The recurrence as a function with its own VJP.
# ----------------------------------------------------------------------------------------------------------
def _gate_constants(hidden_size: int) -> tuple[jax.Array, jax.Array]:
  """(scale, shift) [4H] with sigmoid(z) = 0.5 tanh(z / 2) + 0.5 for i, f, o and tanh(z) for the cell input.

  All four gates then take one tanh over the whole [batch, 4H] pre-activation, with no split and concat:
  on a CPU the transcendentals, not the matmul, are most of a time step.
  """
  half, one = jnp.full((hidden_size,), 0.5), jnp.ones((hidden_size,))
  return jnp.concatenate([half, half, one, half]), jnp.concatenate([half, half, 1 - one, half])


def _gates(z: jax.Array) -> jax.Array:
  """Pre-activations [..., 4H] -> activations (i, f, g, o): sigmoid for i, f, o and tanh for g."""
  scale, shift = _gate_constants(z.shape[-1] // 4)
  return jnp.tanh(z * scale) * scale + shift


def matmul(a: jax.Array, b: jax.Array, dtype: str = 'float32') -> jax.Array:
  """a @ b with inputs rounded to `dtype`, float32 accumulation and result; the same in its gradients.

  'bfloat16' is mixed precision: on CPUs with AMX (and on GPUs and TPUs) such products run several times
  faster than float32 ones at the model's large-batch shapes; parameters, gate arithmetic and the optimiser
  stay float32.
  """
  if dtype == 'float32':
    return a @ b
  return _rounded_matmul(a, b, dtype)


def _dot(a: jax.Array, b: jax.Array, dims: tuple, dtype: str) -> jax.Array:
  return jax.lax.dot_general(a.astype(dtype), b.astype(dtype), (dims, ((), ())),
                             preferred_element_type=jnp.float32)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _rounded_matmul(a: jax.Array, b: jax.Array, dtype: str) -> jax.Array:
  return _dot(a, b, ((a.ndim - 1,), (0,)), dtype)


def _rounded_matmul_fwd(a, b, dtype):
  return _rounded_matmul(a, b, dtype), (a.astype(dtype), b.astype(dtype))


def _rounded_matmul_bwd(dtype, residuals, cotangent):
  # Autodiff's own transpose would take the float32 cotangent against the rounded operand in float32.
  a, b = residuals
  rows = a.reshape(-1, a.shape[-1])
  a_cotangent = _dot(cotangent, b, ((cotangent.ndim - 1,), (1,)), dtype)
  b_cotangent = _dot(rows, cotangent.reshape(-1, cotangent.shape[-1]), ((0,), (0,)), dtype)
  return a_cotangent, b_cotangent


_rounded_matmul.defvjp(_rounded_matmul_fwd, _rounded_matmul_bwd)


def _sum_over_time(x: jax.Array) -> jax.Array:
  """x [time, ...] summed over time as a chain of adds, which XLA fuses into one loop: its reduce over a
  leading axis runs 40x slower on a CPU ([6, 256, 512]: 6 ms against 0.15)."""
  return functools.reduce(jnp.add, [x[t] for t in range(x.shape[0])])


def _is_tokens(inputs: jax.Array) -> bool:
  return jnp.issubdtype(inputs.dtype, jnp.integer)


def _lstm_forward(inputs: jax.Array, kernel: jax.Array, bias: jax.Array, recurrent_kernel: jax.Array,
                  length: int | None, unroll: int, matmul_dtype: str, residuals: bool = True):
  """Runs the layer; returns the hidden states and (with `residuals`) what the backward pass needs.

  The residuals are the backward loop's per-step factors, formed here while the step's gates are in cache:
  on a CPU, at large batch, forming them afterwards from the saved gates costs more passes over
  [time, batch, 4H] memory than the whole loop takes.
  """
  hidden = recurrent_kernel.shape[0]
  batch = inputs.shape[-1] if _is_tokens(inputs) else inputs.shape[-2]
  scale, shift = _gate_constants(hidden)
  u = recurrent_kernel.astype(matmul_dtype)  # Rounded once, not at every step.
  if _is_tokens(inputs):
    # One-hot inputs: each step gathers its rows of (kernel + bias) inside the loop, so that the projections
    # are never written to memory as a [time, batch, 4H] sequence.
    table, xs = kernel + bias, inputs
    pre_activation = lambda x: jnp.take(table, x, axis=0)
  elif length is not None:
    repeated, xs = _dot(inputs, kernel, ((1,), (0,)), matmul_dtype) + bias, None
    pre_activation = lambda _: repeated
  else:
    xs = _dot(inputs, kernel, ((2,), (0,)), matmul_dtype)
    pre_activation = lambda x: x + bias

  def step(carry, x):
    h, c_prev = carry
    activations = _gates(pre_activation(x) + _dot(h, u, ((1,), (0,)), matmul_dtype))
    i, f, g, o = jnp.split(activations, 4, axis=-1)
    c = f * c_prev + i * g
    tanh_c = jnp.tanh(c)
    h = o * tanh_c
    if not residuals:
      return (h, c), (h, None)
    # dz_t = [dc g, dc c_{t-1}, dc i, dh tanh(c)] * d activation / dz, where the latter is a(1 - a) for a
    # sigmoid and 1 - a^2 for tanh: scale^2 - (a - shift)^2 for both. dc = dc_next + dh o (1 - tanh(c)^2).
    dz_factor = jnp.concatenate([g, c_prev, i, tanh_c], axis=-1) * (scale * scale - (activations - shift) ** 2)
    dc_per_dh = o * (1 - tanh_c * tanh_c)
    return (h, c), (h, (dc_per_dh, dz_factor, f))

  zeros = jnp.zeros((batch, hidden), jnp.float32)
  _, (hs, factors) = jax.lax.scan(step, (zeros, zeros), xs, length=length, unroll=unroll)
  return hs, (inputs, kernel, hs, factors, recurrent_kernel)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def lstm_layer(inputs: jax.Array, kernel: jax.Array, bias: jax.Array, recurrent_kernel: jax.Array,
               length: int | None = None, unroll: int = 1, matmul_dtype: str = 'float32') -> jax.Array:
  """Hidden states [time, batch, H] of a Keras LSTM layer from zero state.

  The pre-activations are input_t W + bias + h_{t-1} U, gates in Keras' order i, f, c, o.

  Args:
    inputs: one of three kinds, each projected in the cheapest way: token ids [time, batch] (a one-hot input,
      whose projection is a row gather of W); a sequence [time, batch, features] (one matmul for all steps);
      or, with `length`, one [batch, features] that is the input at each of `length` steps (Keras'
      RepeatVector: projected once, never repeated in memory).
    kernel: W, [features, 4H] (for token ids, [vocabulary, 4H]).
    bias: [4H].
    recurrent_kernel: U, [H, 4H].
    length: the number of steps of a repeated input; None otherwise.
    unroll: time steps per iteration of the compiled loops.
    matmul_dtype: the inputs' precision in the matmuls, forward and backward (see `matmul`).
  Returns:
    The hidden states h_1 .. h_T, [time, batch, H].
  """
  return _lstm_forward(inputs, kernel, bias, recurrent_kernel, length, unroll, matmul_dtype, residuals=False)[0]


def _lstm_layer_fwd(inputs, kernel, bias, recurrent_kernel, length, unroll, matmul_dtype):
  return _lstm_forward(inputs, kernel, bias, recurrent_kernel, length, unroll, matmul_dtype)


def _lstm_layer_bwd(length, unroll, matmul_dtype, residuals, hs_cotangent):
  """The backward loop carries dh and dc only: one [batch, 4H] x [4H, H] matmul and a multiply-add per step.

  The weights' and inputs' cotangents are then formed from whole sequences in a few large matmuls.
  """
  inputs, kernel, hs, (dc_per_dh, dz_factors, f), recurrent_kernel = residuals
  hidden = hs.shape[-1]
  u_t = recurrent_kernel.T.astype(matmul_dtype)

  def step(carry, xs):
    dh_next, dc_next = carry
    dh_out, dc_per_dh, dz_factor, f = xs
    dh = dh_out + dh_next
    dc = dc_next + dh * dc_per_dh
    dz_t = jnp.concatenate([dc, dc, dc, dh], axis=-1) * dz_factor
    return (_dot(dz_t, u_t, ((1,), (0,)), matmul_dtype), dc * f), dz_t

  zeros = jnp.zeros_like(hs[0])
  _, dz = jax.lax.scan(step, (zeros, zeros), (hs_cotangent, dc_per_dh, dz_factors, f), reverse=True, unroll=unroll)
  # dU = sum_t h_{t-1}^T dz_t over all steps at once, h_0 = 0 (a shifted copy of h, not a slice of dz).
  h_before = jnp.concatenate([zeros[None], hs[:-1]])
  dz_rows = dz.reshape(-1, 4 * hidden)
  if not _is_tokens(inputs) and length is None:
    # [dW; dU] in one product: [input_t, h_{t-1}]^T dz_t over all steps.
    features = inputs.shape[-1]
    both = jnp.concatenate([inputs, h_before], axis=-1).reshape(-1, features + hidden)
    both_cotangent = _dot(both, dz_rows, ((0,), (0,)), matmul_dtype)
    return (_dot(dz, kernel, ((2,), (1,)), matmul_dtype), both_cotangent[:features], dz_rows.sum(axis=0),
            both_cotangent[features:])
  recurrent_cotangent = _dot(h_before.reshape(-1, hidden), dz_rows, ((0,), (0,)), matmul_dtype)
  if _is_tokens(inputs):
    # dW = one_hot(tokens)^T dz: a product, which reads dz in place (a scatter-add would copy it first).
    one_hot = jax.nn.one_hot(inputs.reshape(-1), kernel.shape[0], dtype=jnp.float32)
    kernel_cotangent = _dot(one_hot, dz_rows, ((0,), (0,)), 'float32')
    return None, kernel_cotangent, dz_rows.sum(axis=0), recurrent_cotangent
  dz_sum = _sum_over_time(dz)
  return (_dot(dz_sum, kernel, ((1,), (1,)), matmul_dtype),
          _dot(inputs, dz_sum, ((0,), (0,)), matmul_dtype), dz_sum.sum(axis=0), recurrent_cotangent)


lstm_layer.defvjp(_lstm_layer_fwd, _lstm_layer_bwd)


# ----------------------------------------------------------------------------------------------------------
# Linen modules.
# ----------------------------------------------------------------------------------------------------------
class LSTMCell(nn.Module):
  """One time step given x_t @ W + b; the body of the plain nn.scan recurrence."""
  hidden_size: int
  matmul_dtype: str = 'float32'

  @nn.compact
  def __call__(self, carry: tuple[jax.Array, jax.Array],
               projected_input: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
    h, c = carry
    recurrent_kernel = self.param('recurrent_kernel', nn.initializers.orthogonal(),
                                  (self.hidden_size, 4 * self.hidden_size))
    i, f, g, o = jnp.split(_gates(projected_input + matmul(h, recurrent_kernel, self.matmul_dtype)), 4, axis=-1)
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return (h, c), h


class FusedLSTMRecurrence(nn.Module):
  """The layer through lstm_layer's custom VJP; holds the same parameter as the scanned LSTMCell."""
  hidden_size: int
  unroll: int = 1
  matmul_dtype: str = 'float32'

  @nn.compact
  def __call__(self, inputs: jax.Array, kernel: jax.Array, bias: jax.Array,
               length: int | None = None) -> jax.Array:
    recurrent_kernel = self.param('recurrent_kernel', nn.initializers.orthogonal(),
                                  (self.hidden_size, 4 * self.hidden_size))
    return lstm_layer(inputs, kernel, bias, recurrent_kernel, length, self.unroll, self.matmul_dtype)


class LSTM(nn.Module):
  """A Keras LSTM layer returning the whole sequence of hidden states [time, batch, hidden].

  The input is one of three kinds, each projected in the cheapest way:
  - token ids [time, batch] (a one-hot input): the projection is a row gather of the kernel;
  - a sequence [time, batch, features]: one matmul for all steps;
  - a vector [batch, features] with `length` (Keras' RepeatVector): projected once, reused at every step.
  """
  hidden_size: int
  vocab_size: int | None = None  # Set for token-id inputs: the rows of the kernel.
  impl: str = 'fused'
  unroll: int = 1
  matmul_dtype: str = 'float32'  # See `matmul`.
  bias_init: str = 'keras'  # A key of BIAS_INITS: see the initialisers above.
  chrono_fraction: float = 1.0  # Of a chrono bias_init, the fraction of units it applies to; Keras' the rest.
  # Of a chrono bias_init, the longest memory drawn, in multiples of the layer's steps (chrono's T_max): with 2,
  # forget biases log(u), u ~ Uniform(1, 2 * steps - 1), half its units start out keeping their cell for longer
  # than the whole sequence.
  chrono_span: float = 1.0

  @nn.compact
  def __call__(self, inputs: jax.Array, length: int | None = None) -> jax.Array:
    num_inputs = self.vocab_size if self.vocab_size is not None else inputs.shape[-1]
    kernel = self.param('kernel', nn.initializers.glorot_uniform(), (num_inputs, 4 * self.hidden_size))
    steps = length if length is not None else inputs.shape[0]
    horizon = round(self.chrono_span * steps)  # _chrono_init keeps at least the range (1, 2).
    bias = self.param('bias', BIAS_INITS[self.bias_init](horizon, self.chrono_fraction), (4 * self.hidden_size,))
    if self.vocab_size is not None:
      inputs = inputs.astype(jnp.int32)
    if self.impl == 'fused':
      recurrence = FusedLSTMRecurrence(self.hidden_size, self.unroll, self.matmul_dtype, name='recurrence')
      return recurrence(inputs, kernel, bias, length)
    if self.vocab_size is not None:
      projected = jnp.take(kernel, inputs, axis=0)
    else:
      projected = matmul(inputs, kernel, self.matmul_dtype)
    projected = projected + bias
    if length is not None:
      projected = jnp.broadcast_to(projected, (length,) + projected.shape)
    scan = nn.scan(LSTMCell, variable_broadcast='params', split_rngs={'params': False}, unroll=self.unroll)
    zeros = jnp.zeros(projected.shape[1:-1] + (self.hidden_size,), projected.dtype)
    _, hidden_states = scan(self.hidden_size, self.matmul_dtype, name='recurrence')((zeros, zeros), projected)
    return hidden_states


class AdditionLSTM(nn.Module):
  """Query token ids [batch, 2*digits+1] -> answer logits [batch, digits+1, vocab]."""
  digits: int
  hidden_size: int = 128
  num_layers: int = 1
  lstm_impl: str = 'fused'
  unroll: int = 1
  matmul_dtype: str = 'float32'
  bias_init: str = 'keras'  # Every LSTM's: see LSTM.
  # The encoder's, where it differs from bias_init (None: the same). Its sequence is the longest and the
  # distances it must keep are the ones the models fail on (see chrono_lstm_bias_init).
  encoder_bias_init: str | None = None
  chrono_fraction: float = 1.0  # See LSTM.
  chrono_span: float = 1.0  # See LSTM.
  # Each decoder layer after the first adds its input to its output (as GNMT's stacks do): the same
  # parameters, and a path for the gradient that skips the layers above the first.
  residual: bool = False
  # Padding the encoder reads before every query. A query that fills (nearly) the whole width starts its
  # digits at the encoder's first steps, from its zero state, as few training queries do; the models learn
  # positions, and such queries are the ones they fail (README, "Where the models fail"). With a lead-in
  # every query starts from a state the padding has set.
  lead_in: int = 0
  # A second encoder LSTM reads the query backwards (after the lead-in, as the forward one); the two last
  # states, concatenated, are the vector the decoder is given (Keras' Bidirectional, merge_mode='concat').
  # The backward one reads last the characters the forward one read first and must keep longest (in a
  # reversed query, the second operand's units digit, which the answer needs first).
  bidirectional: bool = False
  # The encoder reads each query's characters with its padding left out (what Keras' masking of padding
  # does): every query's first character is read from the same state (zero, or the lead-in's), and the
  # encoder's output is its state after the query's last character. Without it a query's characters start
  # after as many padding steps as the query is short, so the longest queries, the rarest, start from states
  # no other query starts from. The same parameters and steps; only which steps read padding changes.
  skip_padding: bool = False
  # Characters the encoder reads per step. With k > 1, step t reads characters k*t .. k*t + k - 1 (after the
  # lead-in), their one-hot vectors side by side: the query takes 1/k of the steps, and the character read
  # first is 1/k as many steps from the encoder's last state (at 14 digits that did not make the longest sums
  # learnt: README, "Fast recipes"). The input kernel has k * vocabulary rows; padding to a multiple of k goes
  # after the query, inside its last step.
  chars_per_step: int = 1
  # The encoder's output is its state after each query's last character, not after its last step: queries
  # with padding after their characters (shift_augment's training queries) are read as if it were not
  # there. The same for queries laid out as the seed lays them out (reversed, padding in front).
  last_char_readout: bool = False

  @nn.compact
  def __call__(self, queries: jax.Array) -> jax.Array:
    lstm = functools.partial(LSTM, self.hidden_size, impl=self.lstm_impl, unroll=self.unroll,
                             matmul_dtype=self.matmul_dtype, bias_init=self.bias_init,
                             chrono_fraction=self.chrono_fraction, chrono_span=self.chrono_span)
    # Token ids gathered from the kernel's rows, or (several characters a step) one-hot rows side by side.
    vocab_size = data.VOCAB_SIZE if self.chars_per_step == 1 else None
    encoder = functools.partial(lstm, vocab_size=vocab_size, bias_init=self.encoder_bias_init or self.bias_init)
    encoded = self._encode(encoder(name='encoder'), queries)
    if self.bidirectional:
      backward = self._encode(encoder(name='encoder_backward'), queries[:, ::-1])
      encoded = jnp.concatenate([encoded, backward], axis=-1)
    x = lstm(name='decoder_0')(encoded, length=data.answer_length(self.digits))
    for layer in range(1, self.num_layers):
      y = lstm(name=f'decoder_{layer}')(x)
      x = x + y if self.residual else y
    # Logits; the softmax is folded into the cross-entropy and the argmax.
    logits = nn.Dense(data.VOCAB_SIZE, kernel_init=nn.initializers.glorot_uniform(), name='output')(x)
    return logits.transpose(1, 0, 2)

  def _encode(self, encoder: LSTM, queries: jax.Array) -> jax.Array:
    """The encoder's last state [batch, H] over queries [batch, time] (lead-in and skip_padding applied)."""
    if self.skip_padding:
      # Each row's characters first, in their order, its padding after them.
      is_pad = queries == data.PAD_ID
      queries = jnp.take_along_axis(queries, jnp.argsort(is_pad, axis=1, stable=True), axis=1)
    read_last_char = self.skip_padding or self.last_char_readout
    last = queries.shape[1] - 1
    if read_last_char:
      # The state that counts is the one after the query's last character: a padding step after it changes
      # nothing that is read.
      last = last - jnp.argmax(queries[:, ::-1] != data.PAD_ID, axis=1)
    if self.lead_in:
      queries = jnp.pad(queries, ((0, 0), (self.lead_in, 0)), constant_values=data.PAD_ID)
      last = last + self.lead_in
    if self.chars_per_step == 1:
      hidden_states = encoder(queries.T)
    else:
      k = self.chars_per_step
      batch, width = queries.shape
      queries = jnp.pad(queries, ((0, 0), (0, -width % k)), constant_values=data.PAD_ID)
      one_hot = jax.nn.one_hot(queries, data.VOCAB_SIZE, dtype=jnp.float32)
      hidden_states = encoder(one_hot.reshape(batch, -1, k * data.VOCAB_SIZE).transpose(1, 0, 2))
      last = last // k
    if read_last_char:
      return hidden_states[last, jnp.arange(queries.shape[0])]
    return hidden_states[-1]


def from_config(config) -> AdditionLSTM:
  return AdditionLSTM(digits=config.digits, hidden_size=config.hidden_size, num_layers=config.num_layers,
                      lstm_impl=config.lstm_impl, unroll=config.scan_unroll, matmul_dtype=config.matmul_dtype,
                      bias_init=config.lstm_bias_init, encoder_bias_init=config.encoder_bias_init or None,
                      chrono_fraction=config.chrono_fraction, chrono_span=config.chrono_span,
                      residual=config.decoder_residual, lead_in=config.encoder_lead_in,
                      bidirectional=config.encoder_bidirectional, skip_padding=config.encoder_skip_padding,
                      chars_per_step=config.encoder_chars_per_step, last_char_readout=config.shift_augment)
