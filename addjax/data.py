"""Addition problems as token ids: vocabulary, vectorised generation, split, encode and decode.

Reproduces the data of the Keras "addition RNN" example: each operand has a length L uniform in
1..digits followed by L uniform decimal digits ("007" is 7); unordered pairs {a, b} are unique; the
query "a+b" is right-padded with spaces to 2*digits+1 and reversed whole when `reverse`; the answer
str(a+b) is right-padded to digits+1. With `reverse_answer` (not in the seed) the answer's digits are written
least significant first and then padded ("695 " for 596), so that answer position k always holds the digit
of 10^k and the decoder meets the carries in the order they arise.

Numbers are held as arrays of decimal digits, never as integers: 21-digit sums overflow int64.
"""

import math
import re
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

CHARS: str = ' +0123456789'  # sorted, as the seed's CharacterTable sorts its characters
VOCAB_SIZE: int = len(CHARS)
PAD_ID: int = CHARS.index(' ')
PLUS_ID: int = CHARS.index('+')
ZERO_ID: int = CHARS.index('0')  # digit d has id ZERO_ID + d

# Independent random streams for the same integer seed, so generate(seed=s) and split(seed=s) are
# uncorrelated.
_GENERATE_STREAM = 0
_SPLIT_STREAM = 1

# The share of the generated examples held out for validation, never trained on, as in the seed.
VAL_FRACTION = Fraction(1, 10)

_WORD_DIGITS = 19  # decimal digits per uint64 word: 10**19 - 1 < 2**64
_MIN_ROUND = 1024  # fewest candidate pairs drawn per round, so near-exhaustive requests converge

_BYTE_OF_ID = np.frombuffer(CHARS.encode('ascii'), dtype=np.uint8)
_ID_OF_BYTE = np.zeros(256, dtype=np.uint8)
_ID_OF_BYTE[_BYTE_OF_ID] = np.arange(VOCAB_SIZE, dtype=np.uint8)

_DECIMAL = re.compile(r'[0-9]+')  # [0-9], not \d or str.isdigit: those accept non-ASCII digits
_PROBLEM = re.compile(r'([0-9]+) *\+ *([0-9]+)')


def query_length(digits: int) -> int:
  """Tokens in a query: two operands and the plus sign."""
  return 2 * digits + 1


def answer_length(digits: int) -> int:
  """Tokens in an answer: a sum of two `digits`-digit numbers has at most digits+1 digits."""
  return digits + 1


def num_unique_pairs(digits: int) -> int:
  """Number of unordered pairs {a, b} with 0 <= a, b < 10**digits."""
  n = 10**digits
  return n * (n + 1) // 2


def num_validation_examples(num_examples: int) -> int:
  """Examples of num_examples that split() holds out: floor(num_examples * VAL_FRACTION)."""
  return math.floor(num_examples * VAL_FRACTION)


def num_training_examples(num_examples: int) -> int:
  """Examples of num_examples that split() leaves for training."""
  return num_examples - num_validation_examples(num_examples)


def generate(num_examples: int, digits: int, reverse: bool = True, seed: int = 0, *,
             reverse_answer: bool = False) -> tuple[np.ndarray, np.ndarray]:
  """Draws `num_examples` addition problems, no unordered pair twice.

  The problems drawn do not depend on `reverse` or `reverse_answer`, only how they are written.

  Returns uint8 token ids, queries [n, 2*digits+1] and answers [n, digits+1], in draw order: when
  most pairs are used, later rows favour long operands, as in the seed.
  """
  if digits < 1:
    raise ValueError(f'digits must be at least 1, got {digits}')
  if num_examples < 1:
    raise ValueError(f'num_examples must be at least 1, got {num_examples}')
  available = num_unique_pairs(digits)
  if num_examples > available:
    raise ValueError(f'cannot draw {num_examples} unique problems with {digits} digits: '
                     f'only {available} unordered pairs exist')
  rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_GENERATE_STREAM,)))
  operands = _unique_operand_pairs(rng, num_examples, digits)
  a, b = operands[:, 0], operands[:, 1]
  leading_zeros = _leading_zeros(operands)

  # "a+b": drop b's leading zeros, join, then drop a's; the shifts leave the padding on the right.
  plus = np.full((num_examples, 1), PLUS_ID, dtype=np.uint8)
  b_ids = _shift_left(b + ZERO_ID, leading_zeros[:, 1])
  queries = _shift_left(np.concatenate([a + ZERO_ID, plus, b_ids], axis=1), leading_zeros[:, 0])
  if reverse:
    queries = np.ascontiguousarray(queries[:, ::-1])

  total = _add(a, b)
  leading_zeros = _leading_zeros(total)
  if reverse_answer:
    length = total.shape[1] - leading_zeros
    in_answer = np.arange(total.shape[1]) < length[:, None]
    answers = np.where(in_answer, total[:, ::-1] + ZERO_ID, PAD_ID).astype(np.uint8)
  else:
    answers = _shift_left(total + ZERO_ID, leading_zeros)
  return queries, answers


def split(queries: np.ndarray, answers: np.ndarray, seed: int = 0, val_fraction: float | Fraction = VAL_FRACTION
          ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
  """Shuffles, then keeps the last floor(n * val_fraction) examples for validation.

  Returns (train_queries, train_answers), (val_queries, val_answers).
  """
  n = len(queries)
  if len(answers) != n:
    raise ValueError(f'queries and answers differ in length: {n} vs {len(answers)}')
  if not 0 <= val_fraction < 1:
    raise ValueError(f'val_fraction must be in [0, 1), got {val_fraction}')
  # Exact decimal arithmetic, so 0.1 gives n // 10 as in the seed whatever the float rounding.
  num_val = math.floor(n * Fraction(str(val_fraction)))
  rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_STREAM,)))
  order = rng.permutation(n)
  train, val = order[: n - num_val], order[n - num_val :]
  return (queries[train], answers[train]), (queries[val], answers[val])


def make_splits(config: Any) -> dict[str, np.ndarray]:
  """Generates config.training_size problems and splits off VAL_FRACTION of them for validation.

  Reads config.training_size, config.digits, config.reverse, config.reverse_answer and config.seed.
  """
  queries, answers = generate(config.training_size, config.digits, config.reverse, config.seed,
                              reverse_answer=config.reverse_answer)
  (train_queries, train_answers), (val_queries, val_answers) = split(queries, answers, seed=config.seed)
  return {
      'train_queries': train_queries,
      'train_answers': train_answers,
      'val_queries': val_queries,
      'val_answers': val_answers,
  }


def digits_together(queries: np.ndarray) -> np.ndarray:
  """The digits of both operands together of each query [..., width] (token ids), as int32 [...]."""
  return np.sum(queries >= ZERO_ID, axis=-1, dtype=np.int32)


def length_balanced_probabilities(queries: np.ndarray, balance: float) -> np.ndarray:
  """Each query's chance of a draw: `balance` of the mass spread evenly over the counts of digits together,
  evenly within each count, and the rest evenly over the queries.

  With balance 0 every query is as likely as any other, the seed's distribution (where the sums of 2 or 28
  digits together of 14-digit operands are 1 in 196); with 1 each count of digits together that occurs is
  drawn as often as any other.

  Args:
    queries: token ids [num_examples, width], or [num_seeds, num_examples, width] (one set per seed).
    balance: in [0, 1].

  Returns:
    float64 [num_examples] (or [num_seeds, num_examples]), each row summing to 1.
  """
  if queries.ndim == 3:
    return np.stack([length_balanced_probabilities(q, balance) for q in queries])
  together = digits_together(queries)
  counts = np.bincount(together)
  num_lengths = np.count_nonzero(counts)
  balanced = 1.0 / (num_lengths * counts[together])
  return (1.0 - balance) / len(queries) + balance * balanced


def swap_operands(queries: np.ndarray, reverse: bool) -> np.ndarray:
  """The queries "b+a" of queries "a+b" [n, 2*digits+1], laid out alike: the same problems, the same answers.

  A training-time augmentation: it shows each training pair in the order it was not drawn in, and never
  creates a pair that is not in the training set.
  """
  queries = np.asarray(queries)
  if reverse:
    queries = queries[:, ::-1]
  n, width = queries.shape
  columns = np.arange(width)
  plus = np.argmax(queries == PLUS_ID, axis=1)[:, None]  # Length of a.
  length_b = (queries != PAD_ID).sum(axis=1, keepdims=True) - plus - 1
  # Column j of "b+a": b's digit j, then "+", then a's digit j - length_b - 1, then padding.
  source = np.where(columns < length_b, plus + 1 + columns, columns - length_b - 1)
  swapped = np.take_along_axis(queries, np.clip(source, 0, width - 1), axis=1)
  swapped = np.where(columns == length_b, PLUS_ID, swapped)
  swapped = np.where(columns > length_b + plus, PAD_ID, swapped).astype(queries.dtype)
  return np.ascontiguousarray(swapped[:, ::-1] if reverse else swapped)


def encode_query(a: str | int, b: str | int, digits: int, reverse: bool) -> np.ndarray:
  """Token ids [2*digits+1] of the query "a+b", laid out exactly as `generate` lays it out."""
  if digits < 1:
    raise ValueError(f'digits must be at least 1, got {digits}')
  text = f'{_operand(a, digits)}+{_operand(b, digits)}'.ljust(query_length(digits))
  if reverse:
    text = text[::-1]
  return _ID_OF_BYTE[np.frombuffer(text.encode('ascii'), dtype=np.uint8)]


def parse_problem(text: str, digits: int) -> tuple[int, int]:
  """Parses "a+b" into its operands; surrounding whitespace and spaces around "+" are allowed."""
  match = _PROBLEM.fullmatch(text.strip())
  if match is None:
    raise ValueError(f"invalid problem {text!r}: expected 'a+b' where a and b are non-negative integers "
                     f"of at most {digits} digits 0-9, e.g. '535+61'")
  try:
    return _operand(match[1], digits), _operand(match[2], digits)
  except ValueError as error:
    raise ValueError(f'invalid problem {text!r}: {error}') from None


def decode(ids: ArrayLike) -> str | list[str]:
  """Token ids to text, padding kept: 1-D ids give a string, 2-D ids a list of strings."""
  ids = np.asarray(ids)
  if ids.ndim not in (1, 2) or not np.issubdtype(ids.dtype, np.integer):
    raise ValueError(f'expected 1-D or 2-D integer token ids, got {ids.dtype} {ids.shape}')
  if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
    raise ValueError(f'token ids must be in [0, {VOCAB_SIZE}), got {ids.min()}..{ids.max()}')
  text = _BYTE_OF_ID[ids].tobytes().decode('ascii')
  if ids.ndim == 1:
    return text
  width = ids.shape[1]
  return [text[row * width : (row + 1) * width] for row in range(ids.shape[0])]


def query_text(query_ids: ArrayLike, reverse: bool) -> str:
  """The query in natural order without padding, e.g. "535+61"."""
  text = _decode_one(query_ids)
  return (text[::-1] if reverse else text).strip(' ')


def answer_text(answer_ids: ArrayLike, reverse_answer: bool = False) -> str:
  """The answer in natural order without padding, e.g. "596" (from "695 " when `reverse_answer`).

  Spaces inside a malformed answer are kept, in natural order too.
  """
  text = _decode_one(answer_ids).rstrip(' ')
  return (text[::-1] if reverse_answer else text).strip(' ')


def _decode_one(ids: ArrayLike) -> str:
  text = decode(ids)
  if not isinstance(text, str):
    raise ValueError(f'expected 1-D token ids, got shape {np.shape(ids)}')
  return text


def _operand(value: str | int, digits: int) -> int:
  """Validates one operand given as text or integer and returns its value."""
  if isinstance(value, str):
    if _DECIMAL.fullmatch(value) is None:
      raise ValueError(f'operand {value!r} is not a non-negative integer written with digits 0-9')
    significant = value.lstrip('0') or '0'
    if len(significant) > digits:
      raise ValueError(f'operand {value!r} has {len(significant)} digits; at most {digits} are accepted')
    return int(significant)
  if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
    if not 0 <= value < 10**digits:
      raise ValueError(f'operand {value} is not a non-negative integer of at most {digits} digits')
    return int(value)
  raise ValueError(f'operand {value!r} must be a str or int, got {type(value).__name__}')


def _unique_operand_pairs(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
  """The first `n` pairs, in draw order, whose unordered pair has not been drawn before.

  Returns digits [n, 2, digits] uint8, most significant first, zero-filled on the left.
  """
  # Draw in rounds sized from the acceptance rate so far: one round when duplicates are rare,
  # a few large ones for the coupon-collector tail of a near-exhaustive request.
  max_round = max(2 * n, 1 << 16)
  kept_operands: list[np.ndarray] = []
  kept_keys = np.empty((0, 2 * _num_words(digits)), dtype=np.uint64)
  acceptance = 1.0
  while (count := len(kept_keys)) < n:
    remaining = n - count
    size = min(int(remaining / acceptance * 1.05) + _MIN_ROUND, max_round)
    operands = _draw_operands(rng, size, digits)
    keys = _pair_keys(operands)
    # Kept pairs come first, so they keep their places and repeats of them are dropped.
    is_new = _first_occurrences(np.concatenate([kept_keys, keys]))[count:]
    new = np.flatnonzero(is_new)
    acceptance = max(len(new), 1) / size
    new = new[:remaining]
    kept_operands.append(operands[new])
    kept_keys = np.concatenate([kept_keys, keys[new]])
  return np.concatenate(kept_operands)


def _draw_operands(rng: np.random.Generator, size: int, digits: int) -> np.ndarray:
  """Candidate pairs [size, 2, digits]: length L uniform in 1..digits, then L uniform digits."""
  small = np.min_scalar_type(digits)  # uint8 unless digits > 255: keeps the mask cheap
  lengths = rng.integers(1, digits + 1, size=(size, 2, 1), dtype=small)
  values = rng.integers(0, 10, size=(size, 2, digits), dtype=np.uint8)
  # Right-aligned, so the columns left of the drawn L digits are leading zeros.
  values *= np.arange(digits, dtype=small) >= digits - lengths
  return values


def _num_words(digits: int) -> int:
  return -(-digits // _WORD_DIGITS)


def _pair_keys(operands: np.ndarray) -> np.ndarray:
  """Exact key of each unordered pair: [size, 2*words] uint64, smaller operand first.

  Each operand is packed into uint64 words of 19 decimal digits, most significant word first, so
  comparing word rows lexicographically compares the numbers.
  """
  size, _, digits = operands.shape
  num_words = _num_words(digits)
  offset = num_words * _WORD_DIGITS - digits  # zero digits implied on the left of the first word
  # Word-major, so each in-place Horner step writes contiguous memory.
  words = np.zeros((num_words, size, 2), dtype=np.uint64)
  for column in range(digits):
    word = words[(column + offset) // _WORD_DIGITS]
    word *= 10
    word += operands[..., column]
  words = np.moveaxis(words, 0, -1)
  a, b = words[:, 0], words[:, 1]
  first_difference = np.argmax(a != b, axis=1)[:, None]
  swap = np.take_along_axis(a, first_difference, 1) > np.take_along_axis(b, first_difference, 1)
  return np.where(swap[:, :, None], words[:, ::-1], words).reshape(size, 2 * num_words)


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
  """Boolean mask of the rows of `keys` [n, k] that do not repeat an earlier row exactly."""
  # A lexsort over all k columns is several times slower than one argsort, so sort a 64-bit
  # mix of the row and compare rows exactly only where mixes collide: true repeats (few, unless
  # most pairs are taken) and rare accidental collisions, which the exact pass keeps apart.
  mix = np.zeros(len(keys), dtype=np.uint64)
  for column in keys.T:
    mix ^= column
    mix *= np.uint64(0x9E3779B97F4A7C15)
    mix ^= mix >> np.uint64(29)
  order = np.argsort(mix)
  sorted_mix = mix[order]
  shared = np.zeros(len(keys), dtype=bool)
  same_as_next = sorted_mix[1:] == sorted_mix[:-1]
  shared[1:] |= same_as_next
  shared[:-1] |= same_as_next
  candidates = np.sort(order[shared])

  # lexsort is stable, so within a run of equal rows the earliest comes first.
  candidate_keys = keys[candidates]
  by_row = np.lexsort(candidate_keys.T[::-1])
  sorted_keys = candidate_keys[by_row]
  repeats = by_row[1:][(sorted_keys[1:] == sorted_keys[:-1]).all(axis=1)]
  first = np.ones(len(keys), dtype=bool)
  first[candidates[repeats]] = False
  return first


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Sums of digit arrays [n, d] (most significant first) as digit arrays [n, d+1]."""
  # Digit-major layout makes each column of the carry loop contiguous (about twice as fast).
  total = np.ascontiguousarray((a + b).T)
  out = np.empty((total.shape[0] + 1, total.shape[1]), dtype=np.uint8)
  carry = np.zeros(total.shape[1], dtype=np.uint8)
  for column in range(total.shape[0] - 1, -1, -1):
    column_sum = total[column] + carry
    carry = (column_sum >= 10).view(np.uint8)
    out[column + 1] = column_sum - 10 * carry
  out[0] = carry
  return np.ascontiguousarray(out.T)


def _leading_zeros(values: np.ndarray) -> np.ndarray:
  """Leading zeros along the last axis, leaving at least one digit: 0 is written "0"."""
  nonzero = values != 0
  nonzero[..., -1] = True
  return np.argmax(nonzero, axis=-1)


def _shift_left(ids: np.ndarray, shift: np.ndarray) -> np.ndarray:
  """Row i becomes ids[i, shift[i]:] followed by shift[i] PAD_IDs."""
  n, width = ids.shape
  padded = np.concatenate([ids, np.full((n, width), PAD_ID, dtype=ids.dtype)], axis=1)
  # One gather of a width-sized window per row, not one per element.
  return sliding_window_view(padded, width, axis=1)[np.arange(n), shift]
