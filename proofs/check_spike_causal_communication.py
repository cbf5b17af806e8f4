r"""Check of proofs/spike_causal_communication.md (Theorem 4: density and bits of spike-causal updates).

Steps ``step_*`` re-derive each claim with sympy (exact rational arithmetic where a finite
enumeration is the proof) and assert it. Run ``python proofs/check_spike_causal_communication.py
[OUT_DIR]`` to check and write ``OUT_DIR/spike_causal_communication.tex`` (default ``paper/generated``).
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fsnn_theory.theory import regularity as R  # noqa: E402
from fsnn_theory.files import write_text_atomic  # noqa: E402
from fsnn_theory.theory.statements import read_statement, theorem_tex  # noqa: E402
from fsnn_theory.theory import symbolic as S  # noqa: E402

NAME = "spike_causal_communication"

q, a, b, pi_, rho, d, M = sp.symbols("q a b pi rho d M", positive=True)

CLAIMS: dict[str, object] = {
    # P(entry nonzero after M iid samples)
    "entry_probability": lambda qq, m: 1 - (1 - qq) ** m,
    # inputs U[0, a], output U[0, b] (a <= b) independent, output fires with probability pi
    "uniform_q": pi_ * (1 - a / (2 * b)),
    # bitmap message beats dense float32 iff density < (31 d - 1)/(32 d)
    "bitmap_crossover": (31 * d - 1) / (32 * d),
    # second derivative of the binary entropy (bits): negative, so H_2 is concave
    "entropy_curvature": -1 / (rho * (1 - rho) * sp.log(2)),
}

STEPS = S.ProofSteps()
step = STEPS.step


@step
def step_entry_probability():
    """P(at least one of M independent draws is causal) = 1 - (1 - q)^M (enumerated for M <= 4)."""
    for m in range(1, 5):
        total = 0
        for outcome in itertools.product((0, 1), repeat=m):
            if any(outcome):
                total += sp.Mul(*[q if o else 1 - q for o in outcome])
        S.assert_identity(total, CLAIMS["entry_probability"](q, m), f"union probability, M = {m}")


@step
def step_without_replacement():
    """Drawing M distinct of m samples (c causal) misses with C(m-c, M)/C(m, M) <= (1 - c/m)^M."""
    for m in range(1, 9):
        for c in range(0, m + 1):
            for mm in range(1, m + 1):
                miss = sp.Rational(math.comb(m - c, mm), math.comb(m, mm))
                assert miss <= (1 - sp.Rational(c, m)) ** mm, f"m={m}, c={c}, M={mm}"
    # term by term: (m-c-k)/(m-k) <= (m-c)/m for 0 <= k < m
    mm_, cc, kk = sp.symbols("m c k", positive=True)
    gap = (mm_ - cc) / mm_ - (mm_ - cc - kk) / (mm_ - kk)
    S.assert_identity(gap, cc * kk / (mm_ * (mm_ - kk)), "factor comparison")


@step
def step_density_is_monotone():
    """1 - (1 - q)^M increases in M and q: more local samples never make the update sparser."""
    p = CLAIMS["entry_probability"](q, M)
    S.assert_identity(sp.diff(p, M), -(1 - q) ** M * sp.log(1 - q), "d/dM")
    S.assert_identity(sp.diff(p, q), M * (1 - q) ** (M - 1), "d/dq")
    # for 0 < q < 1: log(1 - q) < 0, so d/dM > 0; d/dq > 0 (write q = 1/(1 + u), u > 0)
    u = sp.Symbol("u", positive=True)
    S.assert_nonnegative(sp.simplify((M * (1 - q) ** (M - 1)).subs(q, 1 / (1 + u))), "d/dq >= 0")


@step
def step_uniform_example():
    """t_i ~ U[0, a], t_j ~ U[0, b] independent (a <= b), fires w.p. pi: q = pi (1 - a/(2b))."""
    ti, tj = sp.symbols("t_i t_j", positive=True)
    # P(t_i < t_j) = int_0^b P(t_i < t) dt/b with P(t_i < t) = min(t/a, 1)
    prob = (sp.integrate(tj / a, (tj, 0, a)) + sp.integrate(1, (tj, a, b))) / b
    S.assert_identity(pi_ * prob, CLAIMS["uniform_q"], "q for uniform times")
    _ = ti


@step
def step_bits():
    """E[bits] <= 1 + min(d, ceil(log2(d+1)) + rho d ceil(log2 d)) + 32 rho d; crossover with dense."""
    # Jensen for the concave min of two affine functions, on a two-point law of nnz
    for dd, n1, n2, lam in ((1000, 3, 400, 0.3), (50, 0, 50, 0.5), (4096, 10, 20, 0.9)):
        c, k = math.ceil(math.log2(dd + 1)), math.ceil(math.log2(dd))
        f = lambda x: min(dd, c + x * k)  # noqa: E731
        assert lam * f(n1) + (1 - lam) * f(n2) <= f(lam * n1 + (1 - lam) * n2) + 1e-9, "Jensen"
        rho_ = (lam * n1 + (1 - lam) * n2) / dd
        np.testing.assert_allclose(R.spike_causal_bits_bound(dd, rho_).value, 1 + f(rho_ * dd) + 32 * rho_ * dd)
        exact = lam * _message_bits(dd, n1) + (1 - lam) * _message_bits(dd, n2)
        assert exact <= R.spike_causal_bits_bound(dd, rho_).value + 1e-9, "expected bits <= bound"
    # the bitmap variant is below dense 32 d iff rho < (31 d - 1)/(32 d)
    S.assert_identity(sp.solve(sp.Eq(1 + d + 32 * rho * d, 32 * d), rho)[0], CLAIMS["bitmap_crossover"], "crossover")


def _message_bits(dd: int, nnz: int) -> int:
    """federated.compressors.causal_message_bits, restated: flag + min(bitmap, count + indices) + values."""
    return 1 + min(dd, math.ceil(math.log2(dd + 1)) + nnz * math.ceil(math.log2(dd))) + 32 * nnz


@step
def step_numeric_density():
    """regularity.spike_causal_density averages the entry probabilities exactly."""
    rng = np.random.default_rng(4)
    qs = rng.uniform(0, 1, size=(7, 5))
    qs[0, 0], qs[1, 1] = 0.0, 1.0
    for m in (1, 3, 40):
        want = np.mean([float(CLAIMS["entry_probability"](sp.Float(x, 30), m)) for x in qs.ravel()])
        np.testing.assert_allclose(R.spike_causal_density(qs, m).value, want, rtol=1e-12)


def run_checks() -> list[str]:
    """Run every step; return their names. Raises AssertionError at the first failing step."""
    return STEPS.run()


@step
def step_entropy_baseline():
    """H_2'' < 0 (diff of the definition), and d H_2(rho) = -E log2 P(support) for i.i.d. entries (d = 3)."""
    H = -(rho * sp.log(rho) + (1 - rho) * sp.log(1 - rho)) / sp.log(2)
    S.assert_identity(sp.diff(H, rho, 2), CLAIMS["entropy_curvature"], "H_2''")
    # rho in (0, 1): rho (1 - rho) > 0, so the curvature is negative
    x = sp.Symbol("x", positive=True)
    S.assert_nonnegative(-CLAIMS["entropy_curvature"].subs(rho, x / (1 + x)), "-H_2'' > 0 on (0, 1)")
    # expectation over the 2^3 supports of -log2 P(support), summed exactly
    total = 0
    for bits in itertools.product((0, 1), repeat=3):
        k = sum(bits)
        prob = rho**k * (1 - rho) ** (3 - k)
        total += prob * (-sp.log(prob) / sp.log(2))
    S.assert_identity(sp.expand_log(total, force=True), sp.expand_log(3 * H, force=True), "entropy of 3 i.i.d. entries")
    for dn, r in ((600, 0.05), (15, 0.5), (1000, 1e-3)):
        np.testing.assert_allclose(R.support_entropy_bits(dn, r).value, float(dn * H.subs(rho, r)), rtol=1e-12)


def latex_summary() -> str:
    L = S.latex
    return "\n".join([
        "% Generated by proofs/check_spike_causal_communication.py after all checks passed. Do not edit.",
        r"\begin{align}",
        rf"\Pr(\Delta w_{{ij}} \ne 0) &= {L(CLAIMS['entry_probability'](sp.Symbol('q_{ij}'), M))}, \qquad"
        rf"\mathbb E[\rho] = \frac1d\sum_{{ij}} \Pr(\Delta w_{{ij}} \ne 0), \\",
        r"\mathbb E[\mathrm{bits}] &\le 1 + \min\big(d, \lceil\log_2(d+1)\rceil + \rho d\lceil\log_2 d\rceil\big) + 32\rho d, \\",
        rf"q_{{ij}} &= {L(CLAIMS['uniform_q'])} \quad (t_i \sim U[0,a],\ t_j \sim U[0,b],\ a \le b).",
        r"\end{align}",
    ]) + "\n"


def main(out_dir=None) -> Path:
    run_checks()
    out = Path(out_dir) if out_dir is not None else ROOT / "paper" / "generated"
    # the statement is the front matter of proofs/<NAME>.md; the display is what this check derived
    text = theorem_tex(read_statement(NAME), latex_summary(), "proofs/check_spike_causal_communication.py")
    return write_text_atomic(text, out / f"{NAME}.tex")


if __name__ == "__main__":
    print(f"{NAME}: {len(STEPS)} steps passed; wrote {main(sys.argv[1] if len(sys.argv) > 1 else None)}")
