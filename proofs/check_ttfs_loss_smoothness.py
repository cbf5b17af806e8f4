r"""Symbolic check of proofs/ttfs_loss_smoothness.md (Corollary 1: G and L of the one-layer loss).

Steps ``step_*`` re-derive each claim with sympy and assert it (see check_spike_time_regularity.py
for the conventions). Run ``python proofs/check_ttfs_loss_smoothness.py [OUT_DIR]`` to check and
write ``OUT_DIR/ttfs_loss_smoothness.tex`` (default ``paper/generated``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fsnn_theory.files import write_text_atomic  # noqa: E402
from fsnn_theory.theory.statements import read_statement, theorem_tex  # noqa: E402
from fsnn_theory.theory import symbolic as S  # noqa: E402

NAME = "ttfs_loss_smoothness"
K = 3  # classes in the symbolic checks (the identities are the same for every K)

tx = S.tau_xi

# The proof's claims, literally.
CLAIMS: dict[str, object] = {
    # d loss / d t_k = (delta_{ky} - p_k)/tau_xi  (label y = first class)
    "loss_grad": lambda p: sp.Matrix([(int(k == 0) - p[k]) / tx for k in range(K)]),
    # Hessian in t: (diag p - p p^T)/tau_xi^2
    "loss_hess": lambda p: (sp.diag(*p) - sp.Matrix(p) * sp.Matrix(p).T) / tx**2,
    "softmax_hessian_norm": sp.Rational(1, 2),  # lambda_max(diag p - p p^T) <= 1/2
    "residual_norm2": 2,  # ||e_y - p||_2^2 <= 2 (1 - p_y)^2 <= 2
    "G": sp.sqrt(2) / tx * sp.sqrt(S.n_causal) * S.kappa_max / S.s_min,
}

STEPS = S.ProofSteps()
step = STEPS.step


@step
def step_loss_derivatives():
    """Gradient and Hessian of the cross-entropy in the output spike times."""
    loss = S.ttfs_cross_entropy(K)
    S.assert_identity(loss.grad, CLAIMS["loss_grad"](loss.probabilities), "d loss / d t")
    S.assert_identity(loss.hess, CLAIMS["loss_hess"](loss.probabilities), "d^2 loss / d t^2")
    S.assert_identity(sum(loss.probabilities), 1, "probabilities sum to 1")


@step
def step_softmax_hessian_norm():
    """lambda_max(diag p - p p^T) <= 1/2: the quadratic form is a variance, and Var <= (max-min)^2/4."""
    p = sp.symbols(f"p1:{K + 1}", positive=True)
    vv = sp.symbols(f"v1:{K + 1}", real=True)
    c = sp.Symbol("c", real=True)
    P, V = sp.Matrix(p), sp.Matrix(vv)
    quad = (V.T * (sp.diag(*p) - P * P.T) * V)[0]
    mean = sum(pk * vk for pk, vk in zip(p, vv))
    on_simplex = {p[-1]: 1 - sum(p[:-1])}
    var = sum(pk * (vk - mean) ** 2 for pk, vk in zip(p, vv))
    S.assert_identity(quad.subs(on_simplex), var.subs(on_simplex), "v^T (diag p - pp^T) v = Var_p(v)")
    # Var <= E (v - c)^2 for every c: the difference is (mean - c)^2
    second = sum(pk * (vk - c) ** 2 for pk, vk in zip(p, vv))
    S.assert_identity((second - var).subs(on_simplex), ((mean - c) ** 2).subs(on_simplex), "E(v-c)^2 - Var")
    # with c the midpoint of [lo, hi] and lo <= v_k <= hi: (v_k - c)^2 <= ((hi - lo)/2)^2
    lo, al, be = sp.symbols("lo alpha beta", nonnegative=True)
    vk = lo + al
    hi = vk + be
    S.assert_identity(((hi - lo) / 2) ** 2 - (vk - (hi + lo) / 2) ** 2, (hi - vk) * (vk - lo), "midpoint bound")
    S.assert_nonnegative((hi - vk) * (vk - lo), "(hi - v)(v - lo) >= 0")
    # ((hi - lo)/2)^2 <= (hi^2 + lo^2)/2 <= ||v||^2 / 2 (hi, lo are two entries of v)
    h, l = sp.symbols("h l", real=True)
    S.assert_identity((h**2 + l**2) / 2 - ((h - l) / 2) ** 2, (h + l) ** 2 / 4, "((h-l)/2)^2 <= (h^2+l^2)/2")
    # attained: p = (1/2, 1/2, 0, ...), v = (1, -1, 0, ...)/sqrt 2
    at = {p[0]: sp.Rational(1, 2), p[1]: sp.Rational(1, 2), **{pk: 0 for pk in p[2:]}}
    vec = {vv[0]: 1 / sp.sqrt(2), vv[1]: -1 / sp.sqrt(2), **{vk_: 0 for vk_ in vv[2:]}}
    S.assert_identity(quad.subs(at).subs(vec), CLAIMS["softmax_hessian_norm"], "the bound 1/2 is attained")


@step
def step_residual_norm():
    """||e_y - p||^2 = (1-p_y)^2 + sum_{k!=y} p_k^2 <= 2 (1 - p_y)^2 <= 2."""
    p = sp.symbols(f"p1:{K + 1}", positive=True)
    others = p[1:]
    S.assert_identity((sum(others)) ** 2 - sum(q**2 for q in others),
                      2 * sum(others[i] * others[j] for i in range(len(others)) for j in range(i + 1, len(others))),
                      "(sum p)^2 - sum p^2 = 2 sum_{i<j} p_i p_j")
    S.assert_nonnegative(2 * sum(others[i] * others[j] for i in range(len(others)) for j in range(i + 1, len(others))),
                         "cross terms >= 0")
    one_minus_py = sum(others)  # on the simplex
    bound = one_minus_py**2 + one_minus_py**2
    S.assert_nonnegative(bound - (one_minus_py**2 + sum(q**2 for q in others)), "||e_y - p||^2 <= 2(1-p_y)^2")
    S.assert_identity(residual_sup(), CLAIMS["residual_norm2"], "sup over the simplex of ||e_y - p||^2")


def residual_sup() -> sp.Expr:
    """sup of ||e_y - p||^2 over the simplex, derived: the function is convex in the free
    coordinates (its Hessian's eigenvalues are computed and are >= 0), so the sup is the largest
    value at a vertex (evaluated at each vertex)."""
    q = sp.symbols(f"q2:{K + 1}", nonnegative=True)  # p_2..p_K; p_1 = 1 - sum q (label = class 1)
    f = sum(q) ** 2 + sum(x**2 for x in q)
    for ev in sp.hessian(f, q).eigenvals():
        S.assert_nonnegative(ev, "Hessian eigenvalue of ||e_y - p||^2")
    vertices = [dict.fromkeys(q, 0)] + [{x: int(x == e) for x in q} for e in q]
    return sp.Max(*[f.subs(vx) for vx in vertices])


def softmax_hessian_sup() -> sp.Expr:
    """lambda_max(diag p - p p^T) at its maximiser p = (1/2, 1/2, 0..), derived from the eigenvalues."""
    p = [sp.Rational(1, 2), sp.Rational(1, 2)] + [0] * (K - 2)
    P = sp.Matrix(p)
    return sp.Max(*(sp.diag(*p) - P * P.T).eigenvals())


@step
def step_chain_rule():
    """Hessian in W = J^T H_t J + blockdiag(dl/dt_k * Hess t_k), with J J^T = diag(||grad t_k||^2).

    Checked on second-order Taylor data (the formula involves nothing else): a generic quadratic
    loss in (t_1, t_2) and generic quadratic spike times t_k(w_{1k}, w_{2k}) of their own column.
    """
    w = sp.Matrix(2, 2, sp.symbols("w11 w12 w21 w22", real=True))  # rows: inputs, cols: outputs
    g = sp.symbols("g1 g2", real=True)  # dl/dt_k
    h11, h12, h22 = sp.symbols("h11 h12 h22", real=True)  # d2l/dt dt
    a = sp.Matrix(2, 2, sp.symbols("a11 a12 a21 a22", real=True))  # grad t_k: column k
    B = [sp.Matrix(2, 2, sp.symbols(f"b{k}_11 b{k}_12 b{k}_12 b{k}_22", real=True)) for k in range(2)]
    t = [(a[:, k].T * w[:, k])[0] + (w[:, k].T * B[k] * w[:, k])[0] / 2 for k in range(2)]
    loss = g[0] * t[0] + g[1] * t[1] + (h11 * t[0] ** 2 + 2 * h12 * t[0] * t[1] + h22 * t[1] ** 2) / 2
    flat = [w[0, 0], w[1, 0], w[0, 1], w[1, 1]]  # column-major: block k = weights of output k
    at0 = {x: 0 for x in flat}
    hess = sp.hessian(loss, flat).subs(at0)
    J = sp.zeros(2, 4)
    J[0, 0:2] = a[:, 0].T
    J[1, 2:4] = a[:, 1].T
    Ht = sp.Matrix([[h11, h12], [h12, h22]])
    second = sp.diag(g[0] * B[0], g[1] * B[1])
    S.assert_identity(hess, J.T * Ht * J + second, "chain rule for the Hessian in W")
    S.assert_identity(J * J.T, sp.diag((a[:, 0].T * a[:, 0])[0], (a[:, 1].T * a[:, 1])[0]), "J J^T diagonal")
    grad = sp.Matrix([sp.diff(loss, x) for x in flat]).subs(at0)
    S.assert_identity(grad, J.T * sp.Matrix(g), "chain rule for the gradient")
    S.assert_identity((grad.T * grad)[0], sum(g[k] ** 2 * (a[:, k].T * a[:, k])[0] for k in range(2)),
                      "||grad||^2 = sum_k (dl/dt_k)^2 ||grad t_k||^2")


@step
def step_assembly():
    """G and L: the Theorem 1 bounds substituted into the chain rule, with 1/2 and sqrt 2."""
    B = S.regularity_bound_expressions()
    n, sm, km = S.n_causal, S.s_min, S.kappa_max
    grad_t = sp.sqrt(n) * km / sm  # Theorem 1 (a), l2
    # the two factors come from their derivations (not from CLAIMS), so a wrong stated G or L fails here
    G = sp.sqrt(residual_sup()) / tx * grad_t
    S.assert_identity(G, B["loss_G"], "G")
    S.assert_identity(G, CLAIMS["G"], "G as claimed")
    L = softmax_hessian_sup() / tx**2 * grad_t**2 + 1 / tx * B["hessian"]
    S.assert_identity(L, B["loss_L"], "L")


def run_checks() -> list[str]:
    """Run every step; return their names. Raises AssertionError at the first failing step."""
    return STEPS.run()


def latex_summary() -> str:
    B = S.regularity_bound_expressions()
    return "\n".join([
        "% Generated by proofs/check_ttfs_loss_smoothness.py after all checks passed. Do not edit.",
        r"\begin{align}",
        rf"\|\nabla_W \ell\|_F &\le G = {S.latex(B['loss_G'])}, \\",
        rf"\|\nabla^2_W \ell\|_2 &\le L = {S.latex(B['loss_L'])}.",
        r"\end{align}",
    ]) + "\n"


def main(out_dir=None) -> Path:
    run_checks()
    out = Path(out_dir) if out_dir is not None else ROOT / "paper" / "generated"
    # the statement is the front matter of proofs/<NAME>.md; the display is what this check derived
    text = theorem_tex(read_statement(NAME), latex_summary(), "proofs/check_ttfs_loss_smoothness.py")
    return write_text_atomic(text, out / f"{NAME}.tex")


if __name__ == "__main__":
    print(f"{NAME}: {len(STEPS)} steps passed; wrote {main(sys.argv[1] if len(sys.argv) > 1 else None)}")
