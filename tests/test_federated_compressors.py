"""Compressors: unbiasedness, variance and contraction bounds, error feedback, exact bit counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fsnn_theory.federated.compressors import (
    QSGD,
    Dense,
    Int8,
    RandomK,
    SpikeCausal,
    TopK,
    causal_message_bits,
    elias_omega_decode,
    elias_omega_encode,
    elias_omega_length,
    error_feedback_step,
    parse_compressor,
    qsgd_decode,
    qsgd_encode,
    qsgd_levels,
    qsgd_message_bits,
    sparse_index_bits,
)
from fsnn_theory.theory.bounds import k_contraction_bound, qsgd_variance_bound


def _omega_len_by_recursion(n: int) -> int:
    # Written independently: the code of n is the code of (bitlen(n) - 1) without its trailing 0,
    # then n in binary, then the 0: |w(n)| = |w(bitlen(n) - 1)| + bitlen(n) for n >= 2, |w(1)| = 1.
    return 1 if n == 1 else _omega_len_by_recursion(n.bit_length() - 1) + n.bit_length()


def test_elias_omega_known_codewords_and_lengths():
    # Codewords from Elias (1975) / the standard table.
    table = {1: "0", 2: "100", 3: "110", 4: "101000", 7: "101110", 8: "1110000",
             16: "10100100000", 17: "10100100010", 100: "1011011001000"}
    for n, code in table.items():
        assert elias_omega_encode(n) == code
        assert elias_omega_decode(code) == (n, len(code))
    ns = np.arange(1, 5000)
    np.testing.assert_array_equal(elias_omega_length(ns), [_omega_len_by_recursion(int(n)) for n in ns])
    big = np.array([2**40 + 3, 2**52 - 1])
    np.testing.assert_array_equal(elias_omega_length(big), [_omega_len_by_recursion(int(n)) for n in big])
    with pytest.raises(ValueError, match="n must be >= 1"):
        elias_omega_length(np.array([0, 3]))


def test_qsgd_hand_counted_message():
    # v = (3, 0, -4, 0), s = 5: norm 5 (exact in float32), levels 3, 0, 4, 0 deterministically.
    v = np.array([3.0, 0.0, -4.0, 0.0])
    msg = QSGD(5).compress(v, np.random.default_rng(0))
    np.testing.assert_array_equal(msg.decoded, v)
    # 32 (norm) + w(nnz+1 = 3) "110" + [w(gap 1) "0", sign, w(3) "110"] + [w(gap 2) "100", sign, w(4) "101000"]
    assert msg.bits == 32 + 3 + (1 + 1 + 3) + (3 + 1 + 6) == 50
    assert msg.n_values == 2
    # one non-zero: v = (0, 0, 5, 0), s = 1 -> 32 + w(2) + w(3) + 1 + w(1) = 32 + 3 + 3 + 1 + 1
    assert QSGD(1).compress(np.array([0.0, 0.0, 5.0, 0.0]), np.random.default_rng(0)).bits == 40
    # the zero vector: norm + w(1)
    assert QSGD(3).compress(np.zeros(7), np.random.default_rng(0)).bits == 33


def test_qsgd_encoding_roundtrip_and_length_match():
    rng = np.random.default_rng(1)
    for bucket in (None, 7):
        v = rng.standard_normal(40)
        levels, signs, norms = qsgd_levels(v, 3, np.random.default_rng(2), bucket)
        bits = qsgd_encode(levels, signs, norms, bucket)
        assert len(bits) == qsgd_message_bits(levels, norms, bucket)
        msg = QSGD(3, bucket_size=bucket).compress(v, np.random.default_rng(2))
        np.testing.assert_array_equal(qsgd_decode(bits, 40, 3, bucket), msg.decoded)
        assert msg.bits == len(bits)


def test_qsgd_unbiased_and_within_variance_bound():
    rng = np.random.default_rng(3)
    d, s, draws = 16, 2, 3000
    v = rng.standard_normal(d)
    comp = QSGD(s)
    gen = np.random.default_rng(4)
    Q = np.array([comp.compress(v, gen).decoded for _ in range(draws)])
    # exact per-coordinate variance of the two-point rounding, derived independently:
    r = float(np.float32(np.linalg.norm(v)))
    r = r if r >= np.linalg.norm(v) else float(np.nextafter(np.float32(r), np.float32(np.inf)))
    a = s * np.abs(v) / r
    frac = a - np.floor(a)
    var = (r / s) ** 2 * frac * (1 - frac)
    # unbiased: every coordinate mean within 5 standard errors
    se = np.sqrt(np.maximum(var, 1e-30) / draws)
    assert np.all(np.abs(Q.mean(axis=0) - v) <= 5 * se + 1e-12)
    measured = float(np.mean(np.sum((Q - v) ** 2, axis=1)))
    np.testing.assert_allclose(measured, var.sum(), rtol=0.1)
    bound = qsgd_variance_bound(d, s, float(v @ v))
    assert bound.kind == "upper" and bound.holds(var.sum())
    assert bound.holds(measured)


def test_topk_keeps_largest_and_contracts():
    rng = np.random.default_rng(5)
    for d, frac in ((10, 0.3), (257, 0.05), (1000, 0.01)):
        comp = TopK(fraction=frac)
        k = math.ceil(frac * d - 1e-9)
        for _ in range(5):
            v = rng.standard_normal(d)
            msg = comp.compress(v)
            kept = np.flatnonzero(msg.decoded)
            assert kept.size == k == msg.n_values
            # every kept magnitude >= every dropped one
            dropped = np.setdiff1d(np.arange(d), kept)
            assert np.abs(v[kept]).min() >= np.abs(v[dropped]).max()
            np.testing.assert_allclose(msg.decoded[kept], v[kept], rtol=2**-23)
            err = float(np.sum((v - msg.decoded) ** 2))
            assert k_contraction_bound(d, k, float(v @ v)).holds(err, rtol=1e-12)
            # hand count: k float32 values + k indices of ceil(log2 d) bits
            assert msg.bits == k * (32 + math.ceil(math.log2(d)))
    assert TopK(fraction=0.01).compress(rng.standard_normal(1000)).bits == 10 * (32 + 10)


def test_error_feedback_keeps_the_residual():
    rng = np.random.default_rng(6)
    comp = TopK(fraction=0.1)
    d = 50
    memory = np.zeros(d)
    sent = np.zeros(d)
    total = np.zeros(d)
    for _ in range(30):
        v = rng.standard_normal(d)
        old = memory.copy()
        msg, memory = error_feedback_step(v, memory, comp.compress)
        # the new memory is exactly what was not sent of v + old memory
        np.testing.assert_array_equal(memory, v + old - msg.decoded)
        sent += msg.decoded
        total += v
    np.testing.assert_allclose(sent + memory, total, atol=1e-12)


def test_randk_unbiased_and_bits():
    d, k_frac, draws = 12, 0.25, 3000
    v = np.arange(1.0, d + 1.0)
    gen = np.random.default_rng(7)
    comp = RandomK(fraction=k_frac)
    msgs = [comp.compress(v, gen) for _ in range(draws)]
    Q = np.array([m.decoded for m in msgs])
    k = 3
    assert all(np.count_nonzero(m.decoded) == k for m in msgs)
    assert msgs[0].bits == 32 * k + 64
    # unscaled-value variance per coordinate: v_i^2 (d/k - 1); check the mean within 5 SE
    se = np.sqrt(v**2 * (d / k - 1) / draws)
    assert np.all(np.abs(Q.mean(axis=0) - v) <= 5 * se)
    # the biased variant: E||v - C(v)||^2 = (1 - k/d)||v||^2
    biased = RandomK(fraction=k_frac, unbiased=False)
    errs = [np.sum((v - biased.compress(v, gen).decoded) ** 2) for _ in range(2000)]
    np.testing.assert_allclose(np.mean(errs), (1 - k / d) * (v @ v), rtol=0.06)


def test_int8_bits_and_error():
    rng = np.random.default_rng(8)
    v = rng.standard_normal(100)
    msg = Int8().compress(v)
    assert msg.bits == 8 * 100 + 32
    c = np.abs(v).max() / 127
    assert np.abs(msg.decoded - v).max() <= 0.5 * c * (1 + 1e-6)
    q = msg.decoded / (msg.decoded[np.argmax(np.abs(v))] / np.sign(v[np.argmax(np.abs(v))]) / 127)
    np.testing.assert_allclose(q, np.rint(q), atol=1e-9)
    assert np.abs(np.rint(q)).max() <= 127
    np.testing.assert_array_equal(Int8().compress(np.zeros(5)).decoded, np.zeros(5))


def test_dense_and_causal_bits_hand_count():
    v = np.linspace(-1, 1, 100)
    assert Dense(32).compress(v).bits == 3200
    assert Dense(64).compress(v).bits == 6400
    np.testing.assert_array_equal(Dense(64).compress(v).decoded, v)
    # list coding: flag + ceil(log2 101) = 7 count bits + 3 indices x ceil(log2 100) = 7 bits
    assert sparse_index_bits(100, 3) == 1 + 7 + 21
    assert causal_message_bits(100, 3) == 1 + 7 + 21 + 96
    # bitmap is cheaper for 50 of 100
    assert sparse_index_bits(100, 50) == 1 + 100
    support = np.zeros(100, dtype=bool)
    support[[4, 50, 99]] = True
    msg = SpikeCausal().compress(v, support=support)
    assert msg.bits == 125 and msg.n_values == 3
    np.testing.assert_array_equal(np.flatnonzero(msg.decoded), [4, 50, 99])


def test_parse_compressor_and_bad_input():
    assert isinstance(parse_compressor("none"), Dense)
    assert parse_compressor("qsgd:4").s == 4
    assert parse_compressor("topk:0.01").fraction == 0.01
    assert isinstance(parse_compressor("randk:0.5"), RandomK)
    assert isinstance(parse_compressor("int8"), Int8)
    assert isinstance(parse_compressor("causal"), SpikeCausal)
    with pytest.raises(ValueError, match=r"S >= 1"):
        parse_compressor("qsgd:0")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        parse_compressor("topk:0")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        parse_compressor("randk:1.5")
    with pytest.raises(ValueError, match=r"unknown compressor 'gzip'.*none, qsgd:S, topk:FRAC"):
        parse_compressor("gzip")
    with pytest.raises(ValueError, match=r"0 < k <= d = 10"):
        TopK(k=11).compress(np.ones(10))
    with pytest.raises(ValueError, match=r"s must be an integer"):
        QSGD(0)
