r"""Uplink compressors with exact wire sizes.

A compressor maps a client's update :math:`v \in \mathbb R^d` to a :class:`Message`: what the
server decodes (``decoded``, float64) and the exact number of bits the encoding puts on the wire
(``bits``: values, indices, norms, headers — the length of the encoding actually produced, not a
bound). Values sent as floats are IEEE float32, so ``decoded`` holds float32-rounded values
(:class:`Dense` with ``value_bits=64`` is the lossless exception, for exact reproduction tests).

========================  ==============================================================  =========
compressor                wire format (bits)                                                unbiased
========================  ==============================================================  =========
``Dense(32)`` "none"      d float32 values: ``32 d``                                        ~ (f32)
``Dense(64)``             d float64 values: ``64 d`` (lossless)                             yes
``QSGD(s)``               per bucket: float32 norm, Elias-ω(nnz+1), then per non-zero:      yes
                          Elias-ω(index gap), 1 sign bit, Elias-ω(level)
``TopK(f)`` + EF          k float32 values + k indices of ⌈log₂ d⌉ bits, k = ⌈f d⌉           no (EF)
``RandomK(f)``            64-bit seed of the index set + k float32 values                   scaled: yes
``Int8``                  float32 scale + d int8: ``8 d + 32``                              no
``SpikeCausal``           1 flag bit + min(bitmap d, count ⌈log₂(d+1)⌉ + nnz ⌈log₂ d⌉)       = update
                          + nnz float32 values                                                on its support
========================  ==============================================================  =========

Error feedback (Stich, Cordonnier, Jaggi 2018, arXiv 1809.07599; Karimireddy et al. 2019 "EF-SGD")
is applied by the federated loop, not here: with memory :math:`e`, the client compresses
:math:`p = v + e` and keeps :math:`e \leftarrow p - \mathcal C(p)` (:func:`error_feedback_step`).
A compressor says whether it wants it (``error_feedback``).

References
----------
- D. Alistarh, D. Grubic, J. Li, R. Tomioka, M. Vojnovic, "QSGD: Communication-Efficient SGD via
  Gradient Quantization and Encoding", NeurIPS 2017, arXiv 1610.02132 (Sec. 3.1 quantiser,
  Sec. 3.2 Elias coding; Lemma 3.1: unbiased, variance <= min(d/s², √d/s)‖v‖²).
- P. Elias, "Universal codeword sets and representations of the integers", IEEE Trans. Inf.
  Theory 21(2), 1975 (the ω code).
- S. U. Stich, J.-B. Cordonnier, M. Jaggi, "Sparsified SGD with Memory", NeurIPS 2018,
  arXiv 1809.07599 (top-k / rand-k as k-contractions, Def. 2.1; memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Union

import numpy as np

from fsnn_theory._validation import check_in_range, check_int
from fsnn_theory.theory.bounds import (
    ceil_log2,
    dense_float32_bits,
    int8_quantised_bits,
    randk_shared_seed_bits,
    topk_bits,
)

__all__ = [
    "COMPRESSOR_FORMS",
    "Message",
    "Compressor",
    "Dense",
    "QSGD",
    "TopK",
    "RandomK",
    "Int8",
    "SpikeCausal",
    "parse_compressor",
    "elias_omega_length",
    "elias_omega_encode",
    "elias_omega_decode",
    "qsgd_levels",
    "qsgd_encode",
    "qsgd_decode",
    "qsgd_message_bits",
    "sparse_index_bits",
    "causal_message_bits",
    "error_feedback_step",
    "to_float32",
]

COMPRESSOR_FORMS: tuple[str, ...] = ("none", "qsgd:S", "topk:FRAC", "randk:FRAC", "int8", "causal")


@dataclass(frozen=True, eq=False)
class Message:
    """One client's uplink message: what the server decodes and its exact size on the wire.

    ``decoded``: float64 (d,); ``bits``: exact encoded length; ``n_values``: number of values
    (non-zero levels, kept entries) the message carries.
    """

    decoded: np.ndarray
    bits: int
    n_values: int


def to_float32(v: np.ndarray, name: str = "v") -> np.ndarray:
    """Round to IEEE float32 and back to float64 (what a float32 wire delivers).

    Raises ``ValueError`` if an entry overflows float32 (|x| > 3.4e38) instead of sending inf.
    """
    out = np.asarray(v, dtype=np.float64).astype(np.float32).astype(np.float64)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} has entries that are not finite in float32 (|x| > 3.4e38 or NaN)")
    return out


def _float32_at_least(x: float) -> float:
    """Smallest float32 >= x (x >= 0): a norm or scale rounded up so that ratios stay <= 1."""
    f = np.float32(x)
    if float(f) < x:
        f = np.nextafter(f, np.float32(np.inf))
    if not np.isfinite(f):
        raise ValueError(f"a norm/scale of {x!r} overflows float32")
    return float(f)


def _index_bits(d: int) -> int:
    """Bits of one index into d entries, ⌈log₂ d⌉ (`theory.bounds.ceil_log2`, exact)."""
    return int(ceil_log2(int(d)))


def _check_vector(v) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"v must be a non-empty 1-d vector, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("v must be finite (no NaN or inf)")
    return arr


# --------------------------------------------------------------------------------------------
# Elias omega code (Elias 1975)
# --------------------------------------------------------------------------------------------


def elias_omega_length(n) -> np.ndarray:
    r"""Length in bits of the Elias ω code of each positive integer n (vectorised, int64).

    The code of n: start from the terminating ``0``; while n > 1, prepend the binary form of n
    and set n to (its number of bits − 1). Hence

    .. math:: |\omega(1)| = 1, \qquad |\omega(n)| = 1 + \sum_{j} b_j,\quad
              b_0 = \lfloor\log_2 n\rfloor + 1,\ n_{j+1} = b_j - 1 \text{ while } n_j > 1.

    E.g. ω(1) = 0, ω(2) = 10 0, ω(4) = 10 100 0, ω(17) = 10 100 10001 0 (lengths 1, 3, 6, 11).
    Source: P. Elias, IEEE Trans. Inf. Theory 21(2), 1975.
    """
    m = np.asarray(n)
    if not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"n must hold integers, got dtype {m.dtype}")
    m = m.astype(np.int64)
    if m.size and m.min() < 1:
        raise ValueError(f"n must be >= 1 for the Elias omega code, got {m.min()}")
    length = np.ones(m.shape, dtype=np.int64)
    while True:
        active = m > 1
        if not active.any():
            return length
        # bit length of positive int64 values < 2^53: frexp's exponent is exact
        bits = np.frexp(np.where(active, m, 1).astype(np.float64))[1].astype(np.int64)
        length = np.where(active, length + bits, length)
        m = np.where(active, bits - 1, 1)


def elias_omega_encode(n: int) -> str:
    """The Elias ω code of a positive integer as a string of '0'/'1' (see :func:`elias_omega_length`)."""
    n = check_int("n", n, low=1)
    code = "0"
    while n > 1:
        b = format(n, "b")
        code = b + code
        n = len(b) - 1
    return code


def elias_omega_decode(bits: str, pos: int = 0) -> tuple[int, int]:
    """Decode one Elias ω codeword from ``bits`` starting at ``pos``; returns (n, next position)."""
    n = 1
    while True:
        if pos >= len(bits):
            raise ValueError("truncated Elias omega codeword")
        if bits[pos] == "0":
            return n, pos + 1
        chunk = bits[pos : pos + n + 1]
        if len(chunk) < n + 1:
            raise ValueError("truncated Elias omega codeword")
        pos += n + 1
        n = int(chunk, 2)


# --------------------------------------------------------------------------------------------
# QSGD (Alistarh et al. 2017)
# --------------------------------------------------------------------------------------------


def _buckets(d: int, bucket_size: int | None) -> list[slice]:
    size = d if bucket_size is None else bucket_size
    return [slice(a, min(a + size, d)) for a in range(0, d, size)]


def qsgd_levels(v, s: int, rng: np.random.Generator, bucket_size: int | None = None):
    r"""Stochastic QSGD quantisation of v: integer levels, signs and the (float32) bucket norms.

    For each bucket b with norm :math:`r_b` = the smallest float32 :math:`\ge \|v_b\|_2` (the
    norm that is sent; rounding *up* keeps :math:`|v_i|/r_b \le 1`), and each coordinate with
    :math:`a_i = s|v_i|/r_b \in [0, s]`: level :math:`\ell_i = \lfloor a_i \rfloor + 1` with
    probability :math:`a_i - \lfloor a_i \rfloor`, else :math:`\lfloor a_i\rfloor`. The decoded
    value :math:`r_b\,\mathrm{sign}(v_i)\,\ell_i/s` is then exactly unbiased given the sent norm
    (Alistarh et al. 2017, Sec. 3.1, eq. (4)).

    Returns (levels int64 (d,) in [0, s], signs int8 (d,) in {-1, 0, 1}, norms float64 (n_buckets,)).
    One uniform draw per coordinate, in coordinate order.
    """
    v = _check_vector(v)
    s = check_int("s", s, low=1)
    u = rng.random(v.size)
    levels = np.zeros(v.size, dtype=np.int64)
    slices = _buckets(v.size, bucket_size)
    norms = np.empty(len(slices))
    for b, sl in enumerate(slices):
        r = _float32_at_least(float(np.linalg.norm(v[sl])))
        norms[b] = r
        if r == 0.0:
            continue
        a = s * np.abs(v[sl]) / r
        a = np.minimum(a, float(s))  # |v_i| <= ||v|| <= r; guards one ulp of rounding in s*|v|/r
        low = np.floor(a)
        levels[sl] = (low + (u[sl] < a - low)).astype(np.int64)
    signs = np.sign(v).astype(np.int8)
    signs[levels == 0] = 0
    return levels, signs, norms


def qsgd_message_bits(levels, norms, bucket_size: int | None = None) -> int:
    r"""Exact length of the QSGD Elias encoding of given levels (see :func:`qsgd_encode`).

    .. math:: \text{bits} = \sum_{\text{buckets}} \Big(32 + |\omega(\mathrm{nnz}_b + 1)|
              + \sum_{i:\ \ell_i > 0} \big(|\omega(g_i)| + 1 + |\omega(\ell_i)|\big)\Big),

    :math:`g_i` the gap from the previous non-zero position in the bucket (first: its 1-based
    position). This is the encoding of Alistarh et al. 2017 Sec. 3.2 (float32 norm; Elias code of
    the run length to the next non-zero, a sign bit, Elias code of the integer level) with one
    header codeword for the number of non-zeros so that a bucket can be decoded without knowing
    where the next one starts.
    """
    levels = np.asarray(levels, dtype=np.int64)
    d = levels.size
    total = 0
    for sl in _buckets(d, bucket_size):
        nz = np.flatnonzero(levels[sl])
        total += 32 + int(elias_omega_length(np.array([nz.size + 1]))[0])
        if nz.size:
            gaps = np.diff(np.concatenate([[-1], nz]))
            total += int(elias_omega_length(gaps).sum()) + nz.size + int(elias_omega_length(levels[sl][nz]).sum())
    if len(np.atleast_1d(norms)) != len(_buckets(d, bucket_size)):
        raise ValueError("norms must hold one norm per bucket")
    return total


def qsgd_encode(levels, signs, norms, bucket_size: int | None = None) -> str:
    """The QSGD bit string ('0'/'1') of :func:`qsgd_message_bits`; for tests and small vectors.

    Per bucket: the norm as the 32 bits of its IEEE float32 (big-endian), ω(nnz + 1), then for
    each non-zero in index order: ω(gap), the sign bit (1 = negative), ω(level).
    """
    levels = np.asarray(levels, dtype=np.int64)
    signs = np.asarray(signs)
    out = []
    for b, sl in enumerate(_buckets(levels.size, bucket_size)):
        out.append(format(int(np.array(norms[b], dtype=">f4").view(">u4")), "032b"))
        nz = np.flatnonzero(levels[sl])
        out.append(elias_omega_encode(nz.size + 1))
        prev = -1
        for i in nz:
            out.append(elias_omega_encode(int(i - prev)))
            out.append("1" if signs[sl][i] < 0 else "0")
            out.append(elias_omega_encode(int(levels[sl][i])))
            prev = i
    return "".join(out)


def qsgd_decode(bits: str, d: int, s: int, bucket_size: int | None = None) -> np.ndarray:
    """Decode a :func:`qsgd_encode` bit string back to the quantised vector (float64)."""
    out = np.zeros(d)
    pos = 0
    for sl in _buckets(d, bucket_size):
        norm = float(np.array(int(bits[pos : pos + 32], 2), dtype=">u4").view(">f4"))
        pos += 32
        count, pos = elias_omega_decode(bits, pos)
        idx = sl.start - 1
        for _ in range(count - 1):
            gap, pos = elias_omega_decode(bits, pos)
            negative = bits[pos] == "1"
            pos += 1
            level, pos = elias_omega_decode(bits, pos)
            idx += gap
            out[idx] = (-1.0 if negative else 1.0) * norm * level / s
    if pos != len(bits):
        raise ValueError(f"trailing bits: decoded {pos} of {len(bits)}")
    return out


# --------------------------------------------------------------------------------------------
# Sparse index coding
# --------------------------------------------------------------------------------------------


def sparse_index_bits(d: int, nnz: int) -> int:
    r"""Exact bits to send which ``nnz`` of d positions are present, when nnz varies per message.

    One flag bit chooses the cheaper of a bitmap (d bits) and a list (a count in
    :math:`\lceil\log_2(d+1)\rceil` bits, then nnz fixed-width indices of
    :math:`\lceil\log_2 d\rceil` bits):
    :math:`1 + \min\big(d,\ \lceil\log_2(d+1)\rceil + \mathrm{nnz}\lceil\log_2 d\rceil\big)`.
    """
    d = check_int("d", d, low=1)
    nnz = check_int("nnz", nnz, low=0, high=d)
    return 1 + min(d, _index_bits(d + 1) + nnz * _index_bits(d))


def causal_message_bits(d: int, nnz: int) -> int:
    """Bits of a spike-causal sparse update: :func:`sparse_index_bits` + ``32 nnz`` float32 values."""
    return sparse_index_bits(d, nnz) + 32 * check_int("nnz", nnz, low=0, high=d)


def error_feedback_step(v: np.ndarray, memory: np.ndarray, compress) -> tuple[Message, np.ndarray]:
    r"""One error-feedback step (Stich et al. 2018): compress :math:`p = v + e`, keep :math:`p - \mathcal C(p)`.

    ``compress`` maps p to a :class:`Message`. Returns (message, new memory). The new memory is
    exactly what was not transmitted, so :math:`\sum_t \mathcal C(p_t) + e_T = \sum_t v_t + e_0`.
    """
    p = v + memory
    msg = compress(p)
    return msg, p - msg.decoded


# --------------------------------------------------------------------------------------------
# Compressors
# --------------------------------------------------------------------------------------------


class Compressor:
    """Base class: ``compress(v, rng, support=None) -> Message``.

    Class attributes: ``name`` (spec string), ``error_feedback`` (the federated loop keeps a
    memory per client), ``stochastic`` (uses ``rng``), ``needs_support`` (wants the model's
    gradient support, i.e. the spike-causal set).
    """

    error_feedback: bool = False
    stochastic: ClassVar[bool] = False
    needs_support: ClassVar[bool] = False

    @property
    def name(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def compress(self, v, rng: np.random.Generator | None = None, support=None) -> Message:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Dense(Compressor):
    """No compression: every entry as an IEEE float (``value_bits`` 32, default, or 64: lossless).

    Bits: :math:`32 d` (:func:`~fsnn_theory.theory.bounds.dense_float32_bits`) or :math:`64 d`.
    """

    value_bits: int = 32

    def __post_init__(self) -> None:
        if self.value_bits not in (32, 64):
            raise ValueError(f"value_bits must be 32 or 64, got {self.value_bits!r}")

    @property
    def name(self) -> str:
        return "none" if self.value_bits == 32 else "none64"

    def compress(self, v, rng=None, support=None) -> Message:
        v = _check_vector(v)
        if self.value_bits == 64:
            return Message(v.copy(), 64 * v.size, v.size)
        return Message(to_float32(v), int(dense_float32_bits(v.size)), v.size)


@dataclass(frozen=True)
class QSGD(Compressor):
    """QSGD with ``s`` levels (s >= 1), optional buckets; exact Elias-ω message length.

    Unbiased, :math:`\\mathbb E\\|Q_s(v) - v\\|^2 \\le \\min(d/s^2, \\sqrt d/s)\\|v\\|^2` per
    bucket (Alistarh et al. 2017, Lemma 3.1). See :func:`qsgd_levels`, :func:`qsgd_message_bits`.
    """

    s: int
    bucket_size: int | None = None
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_int("s", self.s, low=1)
        if self.bucket_size is not None:
            check_int("bucket_size", self.bucket_size, low=1)

    @property
    def name(self) -> str:
        return f"qsgd:{self.s}" + ("" if self.bucket_size is None else f"/{self.bucket_size}")

    def compress(self, v, rng=None, support=None) -> Message:
        if rng is None:
            raise ValueError("rng must be a numpy Generator for the stochastic QSGD compressor")
        levels, signs, norms = qsgd_levels(v, self.s, rng, self.bucket_size)
        scale = np.empty(levels.size)
        for b, sl in enumerate(_buckets(levels.size, self.bucket_size)):
            scale[sl] = norms[b] / self.s
        decoded = signs * levels * scale
        bits = qsgd_message_bits(levels, norms, self.bucket_size)
        return Message(decoded, bits, int(np.count_nonzero(levels)))


def _k_of(fraction: float, d: int) -> int:
    """k = ⌈fraction · d⌉ in [1, d] for fraction in (0, 1]."""
    k = math.ceil(fraction * d - 1e-12 * d)  # 0.1 * 50 must give 5, not 6 from 5.000000000000001
    return min(max(k, 1), d)


@dataclass(frozen=True)
class TopK(Compressor):
    r"""Top-k sparsification: keep the k = ⌈``fraction`` · d⌉ largest-magnitude entries (or a fixed ``k``).

    Deterministic; a k-contraction, :math:`\|v - \mathrm{top}_k(v)\|^2 \le (1 - k/d)\|v\|^2`
    (Stich et al. 2018, Def. 2.1), biased, so used with error feedback (default). Ties in
    magnitude: the lower index wins. Bits: k float32 values and k fixed-width indices,
    :math:`k(32 + \lceil\log_2 d\rceil)` (:func:`~fsnn_theory.theory.bounds.topk_bits`).
    Exactly one of ``fraction`` (in (0, 1]) and ``k`` (an integer, 0 < k <= d checked per message)
    is given.
    """

    fraction: float | None = None
    k: int | None = None
    error_feedback: bool = True

    def __post_init__(self) -> None:
        _check_fraction_or_k(self.fraction, self.k)

    @property
    def name(self) -> str:
        return f"topk:{self.fraction}" if self.k is None else f"topk:k={self.k}"

    def k_for(self, d: int) -> int:
        return _resolve_k(self.fraction, self.k, d)

    def compress(self, v, rng=None, support=None) -> Message:
        v = _check_vector(v)
        k = self.k_for(v.size)
        # stable sort on -|v|: the k largest magnitudes, ties to the lower index
        keep = np.argsort(-np.abs(v), kind="stable")[:k]
        decoded = np.zeros_like(v)
        decoded[keep] = to_float32(v[keep])
        return Message(decoded, int(topk_bits(v.size, k)), k)


@dataclass(frozen=True)
class RandomK(Compressor):
    r"""Random-k sparsification: k = ⌈``fraction`` · d⌉ uniformly random distinct entries.

    ``unbiased=True`` (default): the server scales the kept values by d/k, so
    :math:`\mathbb E[\mathcal C(v)] = v` (up to the float32 rounding of the values) with
    :math:`\mathbb E\|\mathcal C(v) - v\|^2 = (d/k - 1)\|v\|^2`. ``unbiased=False``: no scaling, a
    k-contraction in expectation (:math:`\mathbb E\|v - \mathcal C(v)\|^2 = (1 - k/d)\|v\|^2`,
    Stich et al. 2018), meant for error feedback.

    The index set is drawn by ``default_rng(seed_word)`` from a 64-bit ``seed_word`` taken from
    ``rng``; the message carries that seed and the k float32 values in index-set order:
    :math:`32k + 64` bits (:func:`~fsnn_theory.theory.bounds.randk_shared_seed_bits`).
    """

    fraction: float | None = None
    k: int | None = None
    unbiased: bool = True
    error_feedback: bool = False
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_fraction_or_k(self.fraction, self.k)

    @property
    def name(self) -> str:
        base = f"randk:{self.fraction}" if self.k is None else f"randk:k={self.k}"
        return base if self.unbiased else base + "/biased"

    def k_for(self, d: int) -> int:
        return _resolve_k(self.fraction, self.k, d)

    def compress(self, v, rng=None, support=None) -> Message:
        if rng is None:
            raise ValueError("rng must be a numpy Generator for the stochastic random-k compressor")
        v = _check_vector(v)
        d = v.size
        k = self.k_for(d)
        seed_word = int(rng.integers(0, 2**64, dtype=np.uint64))
        keep = np.random.default_rng(seed_word).choice(d, size=k, replace=False)
        decoded = np.zeros_like(v)
        decoded[keep] = to_float32(v[keep]) * (d / k if self.unbiased else 1.0)
        return Message(decoded, int(randk_shared_seed_bits(k, 64)), k)


@dataclass(frozen=True)
class Int8(Compressor):
    r"""Deterministic 8-bit quantisation: scale :math:`c` = smallest float32 :math:`\ge \max_i|v_i|/127`,
    :math:`q_i = \mathrm{round}(v_i / c) \in [-127, 127]` (round half to even), decoded :math:`c\,q_i`.

    Error per entry at most :math:`c/2`; biased (deterministic rounding). Bits: :math:`8d + 32`
    (:func:`~fsnn_theory.theory.bounds.int8_quantised_bits`).
    """

    error_feedback: bool = False

    @property
    def name(self) -> str:
        return "int8"

    def compress(self, v, rng=None, support=None) -> Message:
        v = _check_vector(v)
        bits = int(int8_quantised_bits(v.size))
        peak = float(np.abs(v).max())
        if peak == 0.0:
            return Message(np.zeros_like(v), bits, v.size)
        c = _float32_at_least(peak / 127.0)
        q = np.clip(np.rint(v / c), -127, 127)  # |v|/c <= 127 by construction; clip guards one ulp
        return Message(q * c, bits, v.size)


@dataclass(frozen=True)
class SpikeCausal(Compressor):
    r"""Spike-causal sparse update: send only entries in the model's gradient support.

    ``support`` (bool, d) is the union over the local steps of the model's
    ``gradient_support`` — for a time-to-first-spike network the synapses (i, j) whose presynaptic
    spike was causal for the postsynaptic one (:math:`t_i < t_j`, j fired) on some sample seen,
    since :math:`\partial t_j/\partial w_{ij} = 0` otherwise. A FedAvg update is exactly zero
    outside this set, so nothing is lost beyond float32 rounding; updates with dense terms
    (SCAFFOLD's correction) lose their off-support part. Bits: :func:`causal_message_bits`.
    """

    needs_support: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return "causal"

    def compress(self, v, rng=None, support=None) -> Message:
        v = _check_vector(v)
        if support is None:
            raise ValueError("support must be given (bool array of shape (d,)) for the causal compressor")
        mask = np.asarray(support)
        if mask.shape != v.shape or mask.dtype != bool:
            raise ValueError(f"support must be a bool array of shape {v.shape}, got {mask.dtype} {mask.shape}")
        nnz = int(np.count_nonzero(mask))
        decoded = np.zeros_like(v)
        decoded[mask] = to_float32(v[mask])
        return Message(decoded, causal_message_bits(v.size, nnz), nnz)


def _check_fraction_or_k(fraction, k) -> None:
    if (fraction is None) == (k is None):
        raise ValueError("give exactly one of fraction (in (0, 1]) and k (an integer >= 1)")
    if fraction is not None:
        check_in_range("fraction", fraction, 0.0, 1.0, low_open=True)
    else:
        check_int("k", k, low=1)


def _resolve_k(fraction, k, d: int) -> int:
    if k is None:
        return _k_of(fraction, d)
    if not 0 < k <= d:
        raise ValueError(f"k must satisfy 0 < k <= d = {d}, got k={k}")
    return int(k)


def parse_compressor(spec: Union[str, Compressor]) -> Compressor:
    """A compressor from its command-line form: none | qsgd:S | topk:FRAC | randk:FRAC | int8 | causal.

    ``S`` an integer >= 1 (levels); ``FRAC`` in (0, 1], k = ⌈FRAC · d⌉ (so 0 < k <= d). A
    :class:`Compressor` passes through. Unknown names raise ``ValueError`` listing the forms.
    """
    if isinstance(spec, Compressor):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"compressor must be a string, one of {', '.join(COMPRESSOR_FORMS)}; got {spec!r}")
    name, _, arg = spec.partition(":")
    allowed = f"allowed: {', '.join(COMPRESSOR_FORMS)}"
    if name in ("none", "int8", "causal", "none64"):
        if arg:
            raise ValueError(f"compressor {name!r} takes no argument, got {spec!r} ({allowed})")
        return {"none": Dense(32), "none64": Dense(64), "int8": Int8(), "causal": SpikeCausal()}[name]
    if name == "qsgd":
        try:
            s = int(arg)
        except ValueError:
            raise ValueError(f"compressor qsgd:S needs an integer number of levels S >= 1, got {spec!r}") from None
        if s < 1:
            raise ValueError(f"compressor qsgd:S needs S >= 1 (number of levels), got S={s}")
        return QSGD(s)
    if name in ("topk", "randk"):
        try:
            frac = float(arg)
        except ValueError:
            raise ValueError(f"compressor {name}:FRAC needs a number FRAC in (0, 1], got {spec!r}") from None
        if not (0.0 < frac <= 1.0):
            raise ValueError(
                f"compressor {name}:FRAC needs FRAC in (0, 1] so that k = ceil(FRAC d) lies in (0, d], got {frac!r}"
            )
        return TopK(fraction=frac) if name == "topk" else RandomK(fraction=frac)
    raise ValueError(f"unknown compressor {spec!r}; {allowed}")
