import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from addjax import config as config_lib
from addjax import data
from addjax import models
from addjax import programs
from addjax import reference
from addjax import sharding


def init(digits, num_layers, hidden_size=128, batch=2, seed=0, abstract=False, residual=False):
  model = models.AdditionLSTM(digits=digits, hidden_size=hidden_size, num_layers=num_layers, residual=residual)
  queries = jnp.zeros((batch, data.query_length(digits)), jnp.uint8)
  init = jax.eval_shape if abstract else lambda f, *args: f(*args)
  return model, init(model.init, jax.random.key(seed), queries)['params']


def count(params):
  return sum(x.size for x in jax.tree.leaves(params))


@pytest.mark.parametrize('digits, num_layers, keras_count', [(3, 1, 205_324), (21, 5, 731_660)])
def test_parameter_counts_equal_keras(digits, num_layers, keras_count):
  _, params = init(digits, num_layers, abstract=True)
  assert count(params) == keras_count


def test_keras_initialisation():
  _, params = init(3, 2)
  for name in ('encoder', 'decoder_0', 'decoder_1'):
    layer = params[name]
    bias = np.asarray(layer['bias'])
    np.testing.assert_array_equal(bias[128:256], 1.0)  # Forget gate (Keras order i, f, c, o).
    np.testing.assert_array_equal(np.delete(bias, np.s_[128:256]), 0.0)
    u = np.asarray(layer['recurrence']['recurrent_kernel'])
    np.testing.assert_allclose(u @ u.T, np.eye(128), atol=1e-4)  # Orthogonal rows.
    w = np.asarray(layer['kernel'])
    limit = np.sqrt(6 / sum(w.shape))  # Glorot-uniform bound.
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit


@pytest.mark.parametrize('lstm_impl', ['fused', 'scan'])
def test_chrono_initialisation_spans_each_layers_own_sequence(lstm_impl):
  digits, hidden = 21, 128
  model = models.AdditionLSTM(digits=digits, hidden_size=hidden, num_layers=2, lstm_impl=lstm_impl,
                              bias_init='chrono')
  params = model.init(jax.random.key(0), jnp.zeros((2, data.query_length(digits)), jnp.uint8))['params']
  for name, steps in (('encoder', data.query_length(digits)), ('decoder_0', data.answer_length(digits)),
                      ('decoder_1', data.answer_length(digits))):
    bias = np.asarray(params[name]['bias'])
    forget = bias[hidden:2 * hidden]
    np.testing.assert_array_equal(bias[:hidden], -forget)  # Input gate: the forget gate's opposite.
    np.testing.assert_array_equal(bias[2 * hidden:], 0.0)
    memory = np.exp(forget)  # The steps a unit starts out keeping its cell for: Uniform(1, steps - 1).
    assert 1 <= memory.min() < 0.2 * steps and 0.8 * (steps - 1) < memory.max() <= steps - 1, (name, memory)
  # Drawn per layer, not one draw shared.
  assert not np.array_equal(params['decoder_0']['bias'], params['decoder_1']['bias'])


def test_chrono_forget_and_an_encoder_of_its_own():
  digits, hidden = 14, 128
  model = models.AdditionLSTM(digits=digits, hidden_size=hidden, num_layers=2, bias_init='keras',
                              encoder_bias_init='chrono_forget', bidirectional=True)
  params = model.init(jax.random.key(0), jnp.zeros((2, data.query_length(digits)), jnp.uint8))['params']
  for name in ('encoder', 'encoder_backward'):
    bias = np.asarray(params[name]['bias'])
    memory = np.exp(bias[hidden:2 * hidden])  # Chrono's forget gates over the query's steps.
    steps = data.query_length(digits)
    assert 1 <= memory.min() < 0.2 * steps and 0.8 * (steps - 1) < memory.max() <= steps - 1, (name, memory)
    np.testing.assert_array_equal(np.delete(bias, np.s_[hidden:2 * hidden]), 0.0)  # Input gates as Keras'.
  for name in ('decoder_0', 'decoder_1'):  # Keras' everywhere else.
    np.testing.assert_array_equal(params[name]['bias'], models.keras_lstm_bias_init(None, (4 * hidden,)))


@pytest.mark.parametrize('bias_init', ['chrono', 'chrono_forget'])
def test_chrono_on_a_fraction_of_the_units_keras_on_the_rest(bias_init):
  hidden, steps = 128, 30
  full = np.asarray(models.BIAS_INITS[bias_init](steps, 1.0)(jax.random.key(3), (4 * hidden,)))
  half = np.asarray(models.BIAS_INITS[bias_init](steps, 0.5)(jax.random.key(3), (4 * hidden,)))
  keras = np.asarray(models.keras_lstm_bias_init(None, (4 * hidden,)))
  full, half, keras = (bias.reshape(4, hidden) for bias in (full, half, keras))  # Rows: gates i, f, g, o.
  np.testing.assert_array_equal(half[:, 64:], keras[:, 64:])
  memory = np.exp(half[1, :64])
  assert 1 <= memory.min() < 0.2 * steps and 0.8 * (steps - 1) < memory.max() <= steps - 1
  np.testing.assert_array_equal(half[0, :64], -half[1, :64] if bias_init == 'chrono' else 0.0)
  assert not np.array_equal(full[1, 64:], keras[1, 64:])  # 1.0: every unit chrono's.


def test_chrono_span_stretches_the_longest_memory_drawn():
  digits, hidden = 14, 128
  config = config_lib.base_config()
  config.digits, config.lstm_bias_init, config.chrono_span = digits, 'chrono', 2.0
  model = models.from_config(config)
  params = model.init(jax.random.key(0), jnp.zeros((2, data.query_length(digits)), jnp.uint8))['params']
  for name, steps in (('encoder', data.query_length(digits)), ('decoder_0', data.answer_length(digits))):
    bias = np.asarray(params[name]['bias'])
    memory = np.exp(bias[hidden:2 * hidden])  # Uniform(1, 2 * steps - 1).
    np.testing.assert_array_equal(bias[:hidden], -bias[hidden:2 * hidden])
    assert 1 <= memory.min() < 0.2 * steps and 1.6 * steps < memory.max() <= 2 * steps - 1, (name, memory)
    # About half the units keep their cell for longer than the layer's whole sequence.
    assert 0.35 < np.mean(memory > steps) < 0.65, (name, memory)


@pytest.mark.parametrize('lead_in', [0, 3])
def test_last_char_readout_reads_a_query_as_if_the_padding_after_it_were_not_there(lead_in):
  digits = 4
  queries, _ = data.generate(8, digits, seed=1)
  shifted = np.asarray(programs.make_shift_augment(sharding.data_mesh())(
      queries, jax.random.key_data(jax.random.key(5))))
  kwargs = dict(digits=digits, hidden_size=32, lead_in=lead_in)
  readout = models.AdditionLSTM(last_char_readout=True, **kwargs)
  plain = models.AdditionLSTM(**kwargs)
  params = plain.init(jax.random.key(0), jnp.asarray(queries))
  # As the seed lays queries out (padding in front) both read the same state.
  np.testing.assert_allclose(readout.apply(params, queries), plain.apply(params, queries), rtol=1e-6, atol=1e-6)
  logits = readout.apply(params, shifted)
  trailing = np.argmax(shifted[:, ::-1] != data.PAD_ID, axis=1)
  assert trailing.max() > 0  # Some padding was moved after its query.
  for row, t in enumerate(trailing):
    cut = shifted[row:row + 1, :shifted.shape[1] - t]  # The same query without the padding after it.
    np.testing.assert_allclose(logits[row:row + 1], plain.apply(params, cut), rtol=1e-5, atol=1e-5)


def test_config_shift_augment_sets_the_last_char_readout():
  config = config_lib.base_config()
  assert not models.from_config(config).last_char_readout
  config.shift_augment = True
  assert models.from_config(config).last_char_readout


def test_config_accepts_exactly_the_models_bias_inits():
  assert set(config_lib.BIAS_INITS) == set(models.BIAS_INITS)
  config = config_lib.base_config()
  config.digits, config.lstm_bias_init, config.encoder_bias_init = 3, 'chrono', 'keras'
  model = models.from_config(config)
  assert (model.bias_init, model.encoder_bias_init, model.chrono_fraction) == ('chrono', 'keras', 1.0)
  config.encoder_bias_init = ''  # The same as every other layer's.
  assert models.from_config(config).encoder_bias_init is None


def reference_forward(params, queries, digits, num_layers, residual=False, bidirectional=False,
                      backward_reversed=True, chars_per_step=1):
  """The Keras model written plainly: one-hot input, a step loop, RepeatVector as a real repeat; with
  `residual`, each decoder layer after the first adds its input to its output; with `bidirectional`, the
  last state of params['encoder_backward'] over the reversed query (over the query as it is, if not
  `backward_reversed`) is concatenated to the encoder's; with `chars_per_step` k, the encoders read k
  characters' one-hot vectors side by side a step, padding after the query to a multiple of k."""

  def lstm(layer, inputs):  # inputs [batch, time, features]
    h = c = jnp.zeros((inputs.shape[0], 128))
    outputs = []
    for t in range(inputs.shape[1]):
      z = inputs[:, t] @ layer['kernel'] + h @ layer['recurrence']['recurrent_kernel'] + layer['bias']
      i, f, g, o = jnp.split(z, 4, axis=-1)
      c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
      h = jax.nn.sigmoid(o) * jnp.tanh(c)
      outputs.append(h)
    return jnp.stack(outputs, axis=1)

  def steps(queries):  # [batch, width] -> [batch, steps, chars_per_step * vocabulary]
    pad = np.full((queries.shape[0], -queries.shape[1] % chars_per_step), data.PAD_ID)
    x = jax.nn.one_hot(jnp.concatenate([queries, pad], axis=1), data.VOCAB_SIZE)
    return x.reshape(queries.shape[0], -1, chars_per_step * data.VOCAB_SIZE)

  encoded = lstm(params['encoder'], steps(queries))[:, -1]
  if bidirectional:
    backward = lstm(params['encoder_backward'], steps(queries[:, ::-1] if backward_reversed else queries))[:, -1]
    encoded = jnp.concatenate([encoded, backward], axis=-1)
  x = jnp.repeat(encoded[:, None], data.answer_length(digits), axis=1)
  for layer in range(num_layers):
    y = lstm(params[f'decoder_{layer}'], x)
    x = x + y if residual and layer > 0 else y
  return x @ params['output']['kernel'] + params['output']['bias']


@pytest.mark.parametrize('residual', [False, True])
def test_forward_equals_plain_keras_formulation(residual):
  digits, num_layers = 3, 3
  model, params = init(digits, num_layers, seed=1, residual=residual)
  # Random weights everywhere, so that a wrong gate order or a skipped bias cannot hide behind zeros.
  params = random_params(params)
  queries, _ = data.generate(8, digits, seed=3)
  got = jax.jit(model.apply)({'params': params}, queries)
  want = jax.jit(reference_forward, static_argnums=(2, 3, 4))(params, jnp.asarray(queries, jnp.int32), digits,
                                                              num_layers, residual)
  assert not np.allclose(want, reference_forward(params, jnp.asarray(queries, jnp.int32), digits, num_layers,
                                                 not residual), atol=1e-3)  # The flag matters.
  assert got.shape == (8, digits + 1, data.VOCAB_SIZE)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_a_lead_in_is_padding_read_before_the_query():
  digits, num_layers = 3, 2
  model, params = init(digits, num_layers, seed=1)
  params = random_params(params)
  queries, _ = data.generate(8, digits, seed=3)
  led = models.AdditionLSTM(digits=digits, num_layers=num_layers, lead_in=3)
  assert jax.tree.map(jnp.shape, led.init(jax.random.key(0), queries)['params']) == jax.tree.map(jnp.shape, params)
  got = jax.jit(led.apply)({'params': params}, queries)
  padded = np.concatenate([np.full((8, 3), data.PAD_ID, np.uint8), queries], axis=1)
  np.testing.assert_allclose(got, model.apply({'params': params}, padded), atol=1e-6)
  want = jax.jit(reference_forward, static_argnums=(2, 3))(params, jnp.asarray(padded, jnp.int32), digits, num_layers)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
  assert not np.allclose(got, model.apply({'params': params}, queries), atol=1e-3)


@pytest.mark.parametrize('lstm_impl', ['fused', 'scan'])
def test_a_bidirectional_encoder_adds_a_backward_lstm_whose_last_state_is_concatenated(lstm_impl):
  digits, num_layers = 3, 2
  model = models.AdditionLSTM(digits=digits, num_layers=num_layers, lstm_impl=lstm_impl, bidirectional=True)
  queries, _ = data.generate(8, digits, seed=3)
  params = random_params(model.init(jax.random.key(0), queries)['params'])
  assert params['encoder_backward']['kernel'].shape == params['encoder']['kernel'].shape
  assert params['decoder_0']['kernel'].shape == (2 * 128, 4 * 128)  # Both directions' last states.
  got = jax.jit(model.apply)({'params': params}, queries)
  want = reference_forward(params, jnp.asarray(queries, jnp.int32), digits, num_layers, bidirectional=True)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
  # The backward encoder reads the query backwards: reading it forwards gives other answers.
  read_forwards = reference_forward(params, jnp.asarray(queries, jnp.int32), digits, num_layers,
                                    bidirectional=True, backward_reversed=False)
  assert not np.allclose(want, read_forwards, atol=1e-3)


@pytest.mark.parametrize('lstm_impl, bidirectional, lead_in', [('fused', False, 0), ('scan', False, 0),
                                                                 ('fused', True, 0), ('fused', False, 2)])
def test_skip_padding_reads_each_query_without_its_padding(lstm_impl, bidirectional, lead_in):
  digits, num_layers = 3, 2
  model = models.AdditionLSTM(digits=digits, num_layers=num_layers, lstm_impl=lstm_impl, lead_in=lead_in,
                              bidirectional=bidirectional, skip_padding=True)
  queries, _ = data.generate(8, digits, seed=3)  # Reversed: each query's padding is in front.
  assert len({int((q == data.PAD_ID).sum()) for q in queries}) > 1  # Queries of several lengths.
  params = random_params(model.init(jax.random.key(0), queries)['params'])
  got = jax.jit(model.apply)({'params': params}, queries)
  for row, query in enumerate(queries):
    # The plain model over this query's characters alone (after the lead-in's padding), one query at a time.
    alone = np.concatenate([np.full(lead_in, data.PAD_ID, np.uint8), query[query != data.PAD_ID]])
    want = reference_forward(params, jnp.asarray(alone[None], jnp.int32), digits, num_layers,
                             bidirectional=bidirectional)
    np.testing.assert_allclose(got[row], want[0], atol=1e-5, rtol=1e-5)
  # Padding in front of a query, or after it, changes nothing; without skip_padding it does.
  moved = np.stack([np.roll(q, -int((q == data.PAD_ID).sum())) for q in queries])
  np.testing.assert_allclose(jax.jit(model.apply)({'params': params}, moved), got, atol=1e-5)
  plain = models.AdditionLSTM(digits=digits, num_layers=num_layers, lstm_impl=lstm_impl, lead_in=lead_in,
                              bidirectional=bidirectional)
  assert not np.allclose(plain.apply({'params': params}, queries), got, atol=1e-3)


@pytest.mark.parametrize('lstm_impl, bidirectional, lead_in, skip_padding', [
    ('fused', False, 0, False), ('scan', False, 1, False), ('fused', True, 0, False), ('fused', False, 3, True)])
def test_an_encoder_reading_two_characters_a_step(lstm_impl, bidirectional, lead_in, skip_padding):
  digits, num_layers = 3, 2  # Queries of 7 characters: the last step of two reads one character and padding.
  model = models.AdditionLSTM(digits=digits, num_layers=num_layers, lstm_impl=lstm_impl, lead_in=lead_in,
                              bidirectional=bidirectional, skip_padding=skip_padding, chars_per_step=2)
  queries, _ = data.generate(8, digits, seed=3)
  params = random_params(model.init(jax.random.key(0), queries)['params'])
  assert params['encoder']['kernel'].shape == (2 * data.VOCAB_SIZE, 4 * 128)
  got = jax.jit(model.apply)({'params': params}, queries)
  for row, query in enumerate(queries):
    read = query[query != data.PAD_ID] if skip_padding else query
    alone = np.concatenate([np.full(lead_in, data.PAD_ID, np.uint8), read])
    want = reference_forward(params, jnp.asarray(alone[None], jnp.int32), digits, num_layers,
                             bidirectional=bidirectional, chars_per_step=2)
    np.testing.assert_allclose(got[row], want[0], atol=1e-5, rtol=1e-5)
  if not (bidirectional or skip_padding):
    # Pairs, not one character a step with half the kernel unused: reading one a step gives other answers.
    first_half = params | {'encoder': params['encoder'] | {'kernel': params['encoder']['kernel'][:data.VOCAB_SIZE]}}
    one_a_step = reference_forward(first_half, jnp.asarray(queries, jnp.int32), digits, num_layers)
    assert not np.allclose(got, one_a_step, atol=1e-3)


def test_skip_padding_gradients_of_fused_and_scan_agree():
  digits = 4
  queries, answers = data.generate(16, digits, seed=5)
  fused, scan = (models.AdditionLSTM(digits, 128, 2, lstm_impl=impl, skip_padding=True, lead_in=1)
                 for impl in ('fused', 'scan'))
  params = random_params(fused.init(jax.random.key(0), queries)['params'])
  fused_loss, fused_grads = loss_and_grads(fused, params, queries, answers)
  scan_loss, scan_grads = loss_and_grads(scan, params, queries, answers)
  assert float(fused_loss) == pytest.approx(float(scan_loss), rel=1e-6)
  for want, got in zip(jax.tree.leaves(scan_grads), jax.tree.leaves(fused_grads)):
    assert float(jnp.abs(want).max()) > 0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_different_queries_give_different_outputs():
  model, params = init(2, 1)
  queries, _ = data.generate(2, 2, seed=0)
  logits = model.apply({'params': params}, queries)
  assert not np.allclose(logits[0], logits[1])


def loss_and_grads(model, params, queries, answers):
  """The model's mean cross-entropy on the answers and its gradient, through jit."""
  def loss(params):
    logits = model.apply({'params': params}, queries)
    return optax.softmax_cross_entropy_with_integer_labels(logits, answers.astype(jnp.int32)).mean()
  return jax.jit(jax.value_and_grad(loss))(params)


def random_params(params, seed=2, scale=0.3):
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  return jax.tree.unflatten(treedef, [scale * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


@pytest.mark.parametrize('num_layers', [1, 3])
def test_fused_path_equals_nn_scan_and_the_straightforward_nn_rnn_model(num_layers):
  """Loss and every gradient of the custom-VJP model equal plain autodiff through nn.scan and nn.RNN."""
  digits = 4
  queries, answers = data.generate(16, digits, seed=5)
  fused = models.AdditionLSTM(digits, 128, num_layers, lstm_impl='fused')
  scan = models.AdditionLSTM(digits, 128, num_layers, lstm_impl='scan')
  plain = reference.ReferenceAdditionLSTM(digits, 128, num_layers)
  params = random_params(fused.init(jax.random.key(0), queries)['params'])
  fused_loss, fused_grads = loss_and_grads(fused, params, queries, answers)
  scan_loss, scan_grads = loss_and_grads(scan, params, queries, answers)
  plain_loss, plain_grads = loss_and_grads(plain, reference.params_from_addjax(params), queries, answers)
  assert float(fused_loss) == pytest.approx(float(scan_loss), rel=1e-6)
  assert float(fused_loss) == pytest.approx(float(plain_loss), rel=1e-6)
  assert float(fused_loss) > 0.1  # Random weights: far from a trivial zero loss.
  for want, got in ((scan_grads, fused_grads), (plain_grads, reference.params_from_addjax(fused_grads))):
    for w, g in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
      assert float(jnp.abs(w).max()) > 0  # Every parameter gets a gradient.
      np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('kind', ['sequence', 'repeated', 'tokens'])
@pytest.mark.parametrize('matmul_dtype', ['float32', 'bfloat16'])
def test_lstm_layer_vjp_matches_autodiff_of_the_forward(kind, matmul_dtype):
  """The custom VJP against autodiff of the same forward, for each kind of input."""
  time, batch, hidden, features = 7, 3, 8, 5
  keys = jax.random.split(jax.random.key(0), 5)
  length = time if kind == 'repeated' else None
  if kind == 'tokens':
    inputs = jax.random.randint(keys[0], (time, batch), 0, features)
  else:
    inputs = jax.random.normal(keys[0], (batch, features) if length else (time, batch, features))
  kernel = jax.random.normal(keys[1], (features, 4 * hidden))
  bias = jax.random.normal(keys[2], (4 * hidden,))
  recurrent_kernel = 0.5 * jax.random.normal(keys[3], (hidden, 4 * hidden))
  cotangent = jax.random.normal(keys[4], (time, batch, hidden))

  def forward(layer):
    if kind == 'tokens':  # No cotangent for integer inputs.
      return lambda k, b, u: layer(inputs, k, b, u)
    return lambda x, k, b, u: layer(x, k, b, u)

  args = (kernel, bias, recurrent_kernel) if kind == 'tokens' else (inputs, kernel, bias, recurrent_kernel)
  custom_out, custom = jax.vjp(forward(lambda *a: models.lstm_layer(*a, length, 1, matmul_dtype)), *args)
  plain_out, autodiff = jax.vjp(forward(lambda *a: models._lstm_forward(*a, length, 1, matmul_dtype)[0]), *args)
  np.testing.assert_allclose(custom_out, plain_out, rtol=1e-6, atol=1e-6)
  # Autodiff of the forward keeps its cotangents in float32 through the matmuls; bfloat16 rounds them.
  tolerance = 1e-5 if matmul_dtype == 'float32' else 3e-2
  for got, want in zip(custom(cotangent), autodiff(cotangent)):
    assert float(jnp.abs(want).max()) > 0
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * float(jnp.abs(want).max()))


def test_bfloat16_matmul_rounds_operands_and_cotangents_and_accumulates_in_float32():
  """Forward and both cotangents are products of bfloat16-rounded factors, summed in float32."""
  a = jax.random.normal(jax.random.key(0), (3, 5, 64))
  b = jax.random.normal(jax.random.key(1), (64, 16))
  cotangent = jax.random.normal(jax.random.key(2), (3, 5, 16))
  rounded = lambda x: x.astype(jnp.bfloat16).astype(jnp.float32)
  highest = jax.lax.Precision.HIGHEST
  out, vjp = jax.vjp(lambda a, b: models.matmul(a, b, 'bfloat16'), a, b)
  a_cotangent, b_cotangent = vjp(cotangent)
  assert out.dtype == a_cotangent.dtype == b_cotangent.dtype == jnp.float32
  np.testing.assert_allclose(out, jnp.matmul(rounded(a), rounded(b), precision=highest), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(a_cotangent, jnp.matmul(rounded(cotangent), rounded(b).T, precision=highest),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(b_cotangent, jnp.einsum('tbi,tbo->io', rounded(a), rounded(cotangent),
                                                     precision=highest), rtol=1e-5, atol=1e-5)
  # And it is not the float32 product: bfloat16 keeps 8 bits of mantissa.
  assert float(jnp.abs(out - a @ b).max()) > 1e-3


@pytest.mark.parametrize('lstm_impl', ['fused', 'scan'])
def test_bfloat16_matmuls_compute_the_float32_model_to_bfloat16_precision(lstm_impl):
  """Mixed precision changes the loss and gradients by rounding only: same parameters, close values."""
  digits, num_layers = 4, 2
  queries, answers = data.generate(64, digits, seed=5)
  kwargs = dict(digits=digits, hidden_size=128, num_layers=num_layers, lstm_impl=lstm_impl)
  exact = models.AdditionLSTM(**kwargs)
  mixed = models.AdditionLSTM(**kwargs, matmul_dtype='bfloat16')
  params = random_params(exact.init(jax.random.key(0), queries)['params'], scale=0.1)
  assert jax.tree.structure(mixed.init(jax.random.key(0), queries)['params']) == jax.tree.structure(params)

  def loss(model, params):
    logits = model.apply({'params': params}, queries)
    return optax.softmax_cross_entropy_with_integer_labels(logits, answers.astype(jnp.int32)).mean()

  exact_loss, exact_grads = jax.jit(jax.value_and_grad(lambda p: loss(exact, p)))(params)
  mixed_loss, mixed_grads = jax.jit(jax.value_and_grad(lambda p: loss(mixed, p)))(params)
  assert float(mixed_loss) == pytest.approx(float(exact_loss), rel=1e-2)
  assert float(mixed_loss) != float(exact_loss)
  for want, got in zip(jax.tree.leaves(exact_grads), jax.tree.leaves(mixed_grads)):
    assert got.dtype == jnp.float32
    # Relative to the gradient's size: bfloat16 rounds at 2^-8, and the errors of a sum partly cancel.
    assert float(jnp.linalg.norm(got - want)) < 0.05 * float(jnp.linalg.norm(want))
