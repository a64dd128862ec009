"""Tests for addjax.data: the addition problems of the Keras "addition RNN" example, as token ids."""

import re
import types
from fractions import Fraction

import numpy as np
import pytest

from addjax import data

_QUERY = re.compile(r'(0|[1-9][0-9]*)\+(0|[1-9][0-9]*) *')  # no leading zeros, padding on the right


def _operands(queries: np.ndarray, reverse: bool) -> list[tuple[int, int]]:
  """The (a, b) of each generated query, read back as Python ints."""
  pairs = []
  for row in queries:
    a, b = data.query_text(row, reverse).split('+')
    pairs.append((int(a), int(b)))
  return pairs


def _operand_lengths(queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Significant digits of a and b in unreversed queries, from the ids alone."""
  plus_at = np.argmax(queries == data.PLUS_ID, axis=1)
  written = np.sum(queries != data.PAD_ID, axis=1)
  return plus_at, written - plus_at - 1


def _length_probability(k: int, digits: int) -> Fraction:
  """P(an operand has k significant digits): L uniform in 1..digits, then L uniform digits."""
  # The first L-k drawn digits are zeros and the next is not (for k = 1 it may be: "0").
  first_nonzero = Fraction(1) if k == 1 else Fraction(9, 10)
  return sum(Fraction(1, digits) * Fraction(1, 10 ** (length - k)) * first_nonzero
             for length in range(k, digits + 1))


def test_vocabulary_and_lengths():
  assert data.CHARS == ''.join(sorted('0123456789+ '))
  assert data.VOCAB_SIZE == 12
  assert (data.PAD_ID, data.PLUS_ID, data.ZERO_ID) == (0, 1, 2)
  assert data.query_length(21) == 43 and data.answer_length(21) == 22
  assert data.num_unique_pairs(1) == 55
  assert data.num_unique_pairs(2) == 5050
  assert data.num_unique_pairs(30) == 10**30 * (10**30 + 1) // 2


@pytest.mark.parametrize('digits', range(1, 31))
def test_answers_are_the_sums(digits):
  n = min(300, data.num_unique_pairs(digits))
  queries, answers = data.generate(n, digits, reverse=False, seed=digits)
  assert queries.shape == (n, 2 * digits + 1) and queries.dtype == np.uint8
  assert answers.shape == (n, digits + 1) and answers.dtype == np.uint8
  for query, answer in zip(data.decode(queries), data.decode(answers)):
    match = _QUERY.fullmatch(query)
    assert match, query
    a, b = int(match[1]), int(match[2])
    assert a < 10**digits and b < 10**digits
    assert answer == str(a + b).ljust(digits + 1)


@pytest.mark.parametrize('digits', [19, 21, 30])
def test_long_sums_carry_into_the_extra_digit(digits):
  queries, answers = data.generate(20_000, digits, reverse=True, seed=1)
  pairs = _operands(queries, reverse=True)
  sums = [a + b for a, b in pairs]
  assert [data.answer_text(row) for row in answers] == [str(s) for s in sums]
  assert max(sums) >= 10**digits  # the answer's last position is used
  assert max(max(pair) for pair in pairs) >= 10 ** (digits - 1)


def test_encode_query_layout():
  assert data.decode(data.encode_query('535', 61, 3, reverse=False)) == '535+61 '
  assert data.decode(data.encode_query('535', 61, 3, reverse=True)) == ' 16+535'
  assert data.encode_query(1, 2, 1, reverse=False).tolist() == [3, 1, 4]
  assert data.encode_query(1, 2, 1, reverse=True).tolist() == [4, 1, 3]
  # "5+0" padded to 5, then reversed whole, padding included.
  assert data.encode_query(5, 0, 2, reverse=True).tolist() == [0, 0, 2, 1, 7]
  np.testing.assert_array_equal(data.encode_query('007', '0', 3, reverse=False),
                                data.encode_query(7, 0, 3, reverse=False))
  assert data.encode_query(7, 0, 3, reverse=False).dtype == np.uint8


@pytest.mark.parametrize(
    'a, b, digits',
    [(-1, 2, 3), ('-1', 2, 3), ('1.5', 2, 3), (1.5, 2, 3), ('12a', 1, 3), ('', 1, 3), ('١', 1, 3),
     (1000, 1, 3), (1, '1000', 3), (1, '0001000', 3), (True, 1, 3)],
)
def test_encode_query_rejects_bad_operands(a, b, digits):
  with pytest.raises(ValueError) as error:
    data.encode_query(a, b, digits, reverse=True)
  assert '\n' not in str(error.value)


def test_encode_query_reads_leading_zeros_as_the_number():
  # "0007" has one significant digit, so it fits one-digit problems.
  assert data.query_text(data.encode_query('0007', '00', 1, reverse=True), True) == '7+0'


@pytest.mark.parametrize('reverse', [True, False])
def test_generated_rows_are_laid_out_as_encode_query(reverse):
  digits = 4
  queries, _ = data.generate(500, digits, reverse=reverse, seed=3)
  for row, (a, b) in zip(queries, _operands(queries, reverse)):
    text = f'{a}+{b}'.ljust(2 * digits + 1)
    assert data.decode(row) == (text[::-1] if reverse else text)
    np.testing.assert_array_equal(row, data.encode_query(a, b, digits, reverse))


def test_reverse_flips_queries_only():
  forward = data.generate(1000, 5, reverse=False, seed=7)
  backward = data.generate(1000, 5, reverse=True, seed=7)
  np.testing.assert_array_equal(backward[0], forward[0][:, ::-1])
  np.testing.assert_array_equal(backward[1], forward[1])


@pytest.mark.parametrize('digits', [1, 3, 21])
def test_reverse_answer_writes_the_same_sums_least_significant_digit_first(digits):
  n = min(2000, data.num_unique_pairs(digits))
  queries, answers = data.generate(n, digits, reverse=True, seed=4)
  same_queries, reversed_answers = data.generate(n, digits, reverse=True, seed=4, reverse_answer=True)
  np.testing.assert_array_equal(same_queries, queries)  # The same problems, drawn alike.
  for answer, reversed_answer in zip(data.decode(answers), data.decode(reversed_answers)):
    digits_text = answer.rstrip(' ')
    assert reversed_answer == digits_text[::-1].ljust(digits + 1)  # "596 " -> "695 "
  assert [data.answer_text(row, reverse_answer=True) for row in reversed_answers] == [
      data.answer_text(row) for row in answers]
  if digits > 1:
    assert any(a != b for a, b in zip(data.decode(answers), data.decode(reversed_answers)))


def test_answer_text_of_a_reversed_answer_keeps_a_malformed_answers_spaces_in_natural_order():
  ids = np.array([data.CHARS.index(c) for c in '6 5 '], np.uint8)
  assert data.answer_text(ids, reverse_answer=True) == '5 6'
  assert data.answer_text(ids) == '6 5'


@pytest.mark.parametrize('digits, n', [(1, 40), (2, 3000), (3, 50_000), (20, 20_000), (30, 20_000)])
def test_unordered_pairs_are_unique(digits, n):
  queries, _ = data.generate(n, digits, seed=0)
  pairs = _operands(queries, reverse=True)
  assert len({(min(a, b), max(a, b)) for a, b in pairs}) == n


def test_first_occurrences_is_exact_and_keeps_the_earliest():
  rng = np.random.default_rng(0)
  # Few distinct rows, so most rows repeat; rows may differ in any one word only.
  keys = rng.integers(0, 3, size=(3000, 4)).astype(np.uint64) + np.uint64(2**63)
  seen, expected = set(), []
  for row in map(tuple, keys.tolist()):
    expected.append(row not in seen)
    seen.add(row)
  assert data._first_occurrences(keys).tolist() == expected


def test_two_digits_near_exhaustive_and_exhaustive():
  queries, _ = data.generate(5000, 2, seed=0)
  pairs = {(min(a, b), max(a, b)) for a, b in _operands(queries, reverse=True)}
  assert len(pairs) == 5000

  queries, answers = data.generate(5050, 2, seed=0)
  pairs = {(min(a, b), max(a, b)) for a, b in _operands(queries, reverse=True)}
  assert pairs == {(a, b) for a in range(100) for b in range(a, 100)}
  assert answers.shape == (5050, 3)


@pytest.mark.parametrize(
    'num_examples, digits, message',
    [(5051, 2, '5050'), (56, 1, '55'), (0, 2, 'num_examples'), (10, 0, 'digits')],
)
def test_generate_rejects_impossible_requests(num_examples, digits, message):
  with pytest.raises(ValueError, match=message) as error:
    data.generate(num_examples, digits)
  assert '\n' not in str(error.value)


def test_generate_is_deterministic_in_seed():
  first = data.generate(2000, 21, seed=5)
  second = data.generate(2000, 21, seed=5)
  other = data.generate(2000, 21, seed=6)
  for x, y in zip(first, second):
    np.testing.assert_array_equal(x, y)
  assert not np.array_equal(first[0], other[0])


def test_operand_lengths_follow_the_seed_distribution():
  digits, n = 6, 200_000
  queries, _ = data.generate(n, digits, reverse=False, seed=11)
  length_a, length_b = _operand_lengths(queries)
  expected = {k: _length_probability(k, digits) for k in range(1, digits + 1)}
  assert sum(expected.values()) == 1
  assert set(length_a.tolist()) == set(length_b.tolist()) == set(expected)
  # Uniqueness rejects many pairs of two short operands, so compare each operand's lengths
  # where the other is long: there repeats are vanishingly rare and the draws independent.
  for lengths, other in [(length_a, length_b), (length_b, length_a)]:
    sample = lengths[other >= digits - 1]
    m = len(sample)
    assert m > 50_000
    for k, p in expected.items():
      observed = np.count_nonzero(sample == k) / m
      standard_error = float(p * (1 - p) / m) ** 0.5
      assert abs(observed - float(p)) < 5 * standard_error, (k, observed, float(p))


def test_split_sizes_disjointness_and_permutation():
  queries, answers = data.generate(1234, 5, seed=0)
  (train_q, train_a), (val_q, val_a) = data.split(queries, answers, seed=0)
  assert len(val_q) == len(val_a) == 123
  assert len(train_q) == len(train_a) == 1234 - 123
  answer_of = {q.tobytes(): a.tobytes() for q, a in zip(queries, answers)}
  train_rows = [q.tobytes() for q in train_q]
  val_rows = [q.tobytes() for q in val_q]
  assert not set(train_rows) & set(val_rows)
  assert sorted(train_rows + val_rows) == sorted(answer_of)
  for q, a in zip(np.concatenate([train_q, val_q]), np.concatenate([train_a, val_a])):
    assert answer_of[q.tobytes()] == a.tobytes()
  # Shuffled, not just cut.
  assert not np.array_equal(np.concatenate([train_q, val_q]), queries)


def test_split_takes_n_div_10_for_validation():
  for n in range(1, 1500):
    indices = np.arange(n)
    _, (val, _) = data.split(indices, indices, seed=n)
    assert len(val) == n // 10


def test_split_is_deterministic_in_seed():
  indices = np.arange(1000)
  (train, _), _ = data.split(indices, indices, seed=3)
  (again, _), _ = data.split(indices, indices, seed=3)
  (other, _), _ = data.split(indices, indices, seed=4)
  np.testing.assert_array_equal(train, again)
  assert not np.array_equal(train, other)


def test_split_rejects_bad_arguments():
  with pytest.raises(ValueError):
    data.split(np.arange(10), np.arange(9))
  with pytest.raises(ValueError):
    data.split(np.arange(10), np.arange(10), val_fraction=1.0)


def test_make_splits_reads_a_config():
  config = types.SimpleNamespace(training_size=1000, digits=3, reverse=True, reverse_answer=False, seed=2)
  splits = data.make_splits(config)
  assert sorted(splits) == ['train_answers', 'train_queries', 'val_answers', 'val_queries']
  assert splits['train_queries'].shape == (900, 7) and splits['train_answers'].shape == (900, 4)
  assert splits['val_queries'].shape == (100, 7) and splits['val_answers'].shape == (100, 4)
  assert all(array.dtype == np.uint8 for array in splits.values())
  (train_q, train_a), (val_q, val_a) = data.split(*data.generate(1000, 3, True, 2), seed=2)
  np.testing.assert_array_equal(splits['train_queries'], train_q)
  np.testing.assert_array_equal(splits['val_answers'], val_a)
  for queries, answers in [(train_q, train_a), (val_q, val_a)]:
    for query, answer in zip(queries, answers):
      a, b = data.query_text(query, reverse=True).split('+')
      assert data.answer_text(answer) == str(int(a) + int(b))


def test_make_splits_reads_a_config_dict():
  ml_collections = pytest.importorskip('ml_collections')
  config = ml_collections.ConfigDict(dict(training_size=50, digits=2, reverse=False, reverse_answer=True, seed=0))
  splits = data.make_splits(config)
  assert splits['train_queries'].shape == (45, 5) and splits['val_queries'].shape == (5, 5)
  for query, answer in zip(splits['train_queries'], splits['train_answers']):
    a, b = data.query_text(query, reverse=False).split('+')
    assert data.answer_text(answer, reverse_answer=True) == str(int(a) + int(b))


@pytest.mark.parametrize(
    'text, expected',
    [('535+61', (535, 61)), (' 1+2 ', (1, 2)), ('\t999 + 0\n', (999, 0)), ('007+0', (7, 0))],
)
def test_parse_problem_accepts(text, expected):
  assert data.parse_problem(text, digits=3) == expected


@pytest.mark.parametrize(
    'text',
    ['', '   ', '1+', '+1', 'a+b', '1+2+3', '-1+2', '1.5+2', '١+٢', '1٢+3', '1234+1', '1+1234',
     '12', '1 2+3', '1+2\n3'],
)
def test_parse_problem_rejects(text):
  with pytest.raises(ValueError) as error:
    data.parse_problem(text, digits=3)
  message = str(error.value)
  assert '\n' not in message
  assert repr(text) in message


def test_decode_and_texts_round_trip():
  ids = data.encode_query(535, 61, 3, reverse=True)
  assert data.decode(ids) == ' 16+535'
  assert data.decode(ids.tolist()) == ' 16+535'
  assert data.query_text(ids, reverse=True) == '535+61'
  assert data.query_text(data.encode_query(535, 61, 3, reverse=False), reverse=False) == '535+61'
  answer = np.array([7, 11, 8, 0])  # "596 "
  assert data.decode(answer) == '596 '
  assert data.answer_text(answer) == '596'
  assert data.decode(np.stack([ids, ids[::-1]])) == [' 16+535', '535+61 ']


def test_generated_rows_round_trip_through_text():
  queries, answers = data.generate(200, 8, reverse=True, seed=4)
  for query, answer in zip(queries, answers):
    a, b = data.parse_problem(data.query_text(query, reverse=True), digits=8)
    np.testing.assert_array_equal(data.encode_query(a, b, 8, reverse=True), query)
    assert data.answer_text(answer) == str(a + b)


@pytest.mark.parametrize('ids', [[12], [-1], [[[0]]], [0.5]])
def test_decode_rejects_non_ids(ids):
  with pytest.raises(ValueError):
    data.decode(ids)


@pytest.mark.parametrize('digits', [1, 2, 5, 21])
@pytest.mark.parametrize('reverse', [True, False])
def test_swap_operands_lays_out_b_plus_a(digits, reverse):
  queries, _ = data.generate(min(500, data.num_unique_pairs(digits)), digits, reverse=reverse, seed=3)
  swapped = data.swap_operands(queries, reverse)
  assert swapped.dtype == queries.dtype and swapped.shape == queries.shape
  for query, row in zip(queries, swapped):
    a, b = data.query_text(query, reverse).split('+')
    np.testing.assert_array_equal(row, data.encode_query(b, a, digits, reverse))
  np.testing.assert_array_equal(data.swap_operands(swapped, reverse), queries)


def test_length_balanced_probabilities_spread_mass_over_counts_of_digits_together():
  queries, _ = data.generate(5_000, 5, seed=0)
  together = data.digits_together(queries)
  assert together.min() == 2 and together.max() == 10
  np.testing.assert_array_equal(together[:3], [sum(c.isdigit() for c in data.decode(q)) for q in queries[:3]])
  plain = data.length_balanced_probabilities(queries, 0.0)
  np.testing.assert_allclose(plain, 1 / len(queries))
  balanced = data.length_balanced_probabilities(queries, 1.0)
  mass = [balanced[together == count].sum() for count in range(2, 11)]
  np.testing.assert_allclose(mass, 1 / 9)  # Each of the 9 counts 2..10 alike.
  half = data.length_balanced_probabilities(queries, 0.5)
  np.testing.assert_allclose(half, (plain + balanced) / 2)
  assert half.sum() == pytest.approx(1.0)
  per_seed = data.length_balanced_probabilities(np.stack([queries, queries[::-1]]), 0.5)
  np.testing.assert_allclose(per_seed, np.stack([half, half[::-1]]))
