"""``fsnn explain``: a theorem's statement, assumptions and value for given constants.

    fsnn explain                                   list the theorems
    fsnn explain NAME                              statement, assumptions, values at the defaults
    fsnn explain NAME --set s_min=0.1 tau_s=1 ...  values for these constants
    fsnn explain NAME --latex                      also the LaTeX of the checked formulas

Title, statement (LaTeX), assumptions and constants are the front matter of ``proofs/<NAME>.md``
(`fsnn_theory.theory.statements`; the same text the paper typesets; the proof follows in that
file, every algebraic step checked by ``proofs/check_<NAME>.py``); the values come from
:mod:`fsnn_theory.theory.regularity`, the same functions the experiments use. Without the
repository's ``proofs/`` (or with a garbled front matter) the command fails with exit code 1.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from fsnn_theory.cli._table import format_table
from fsnn_theory.neurons import make_model
from fsnn_theory.theory import bounds
from fsnn_theory.theory import regularity as R
from fsnn_theory.theory import smoothing as SM
from fsnn_theory.theory.regularity import kernel_constants
from fsnn_theory.theory.statements import FrontMatterError, read_statement

HELP = "print a theorem's statement, assumptions and its value for given constants"

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Theorem:
    """One explainable result: its parameters (with defaults) and an evaluator. Title, statement,
    assumptions and constants are the front matter of ``proofs/<name>.md`` (`statement`)."""

    name: str
    params: dict[str, tuple[object, str]]
    evaluate: Callable[[dict], list[tuple[str, str, float]]]  # -> (quantity, kind, value)
    latex: Callable[[], list[str]] = field(default=lambda: [])

    def statement(self):
        """The front matter of ``proofs/<name>.md`` (`fsnn_theory.theory.statements`)."""

        return read_statement(self.name)


MODEL_PARAMS: dict[str, tuple[object, str]] = {
    "model": ("lif", "nlif or lif"),
    "tau_m": (2.0, "membrane time constant (ms), lif only"),
    "tau_s": (1.0, "synaptic time constant (ms)"),
    "theta": (1.0, "threshold"),
}


def _model(p: dict):

    kwargs = {"tau_s": p["tau_s"], "theta": p["theta"]}
    if p["model"] == "lif":
        kwargs["tau_m"] = p["tau_m"]
    return make_model(str(p["model"]), **kwargs)


def _kernel_rows(model) -> list[tuple[str, str, float]]:

    c = kernel_constants(model)
    return [
        ("kappa_max = sup kappa", "tight", c.kappa_max),
        ("peak time s_p (ms)", "tight", c.peak_time),
        ("kappa'_max = sup |kappa'| = kappa'(0+)", "tight", c.kappa1_max),
        ("kappa''_max = sup |kappa''|", "tight", c.kappa2_max),
        ("kappa''''_max = sup |kappa''''|", "tight", c.kappa4_max),
    ]


def _weights(p: dict) -> dict:
    w = {"w_max": p["W"]}
    if p.get("W1") != "inf" and math.isfinite(float(p["W1"])):
        w["w_l1"] = float(p["W1"])
    return w


def _regularity(p: dict) -> list[tuple[str, str, float]]:

    m, s, n = _model(p), p["s_min"], p["n"]
    w = _weights(p)
    rows = _kernel_rows(m)
    for norm in ("entry", "l2", "l1"):
        b = R.spike_time_weight_gradient_bound(m, s, n, norm)
        rows.append((f"|dt*/dw| ({norm})", b.kind, b.value))
    for norm in ("entry", "l2", "l1"):
        b = R.spike_time_input_gradient_bound(m, s, n, norm=norm, **w)
        rows.append((f"|dt*/dt_in| ({norm})", b.kind, b.value))
    b = R.potential_derivative_bound(m, 2, n, **w)
    rows.append(("|V''| between input times", b.kind, b.value))
    b = R.spike_time_hessian_bound(m, s, n, **w)
    rows.append(("||Hessian_w t*|| (spectral, Frobenius)", b.kind, b.value))
    b = R.spike_time_input_gradient_lower_bound(n, "l1")
    rows.append(("|dt*/dt_in| (l1), any crossing", b.kind, b.value))
    return rows


def _loss(p: dict) -> list[tuple[str, str, float]]:

    m, s, n = _model(p), p["s_min"], p["n"]
    g = R.ttfs_loss_gradient_bound(m, s, n, p["tau_xi"])
    L = R.ttfs_loss_smoothness_bound(m, s, n, p["tau_xi"], **_weights(p))
    return [("G >= ||grad_W loss||_F", g.kind, g.value), ("L >= ||Hessian_W loss||_2", L.kind, L.value)]


def _lipschitz(p: dict) -> list[tuple[str, str, float]]:

    m, d = _model(p), p["delta"]
    rows = []
    ex = R.inhibitory_cutoff_example(m, d)
    t_b = float(m.first_spike_times(ex.input_times, ex.weights_before)[0, 0])
    t_a = float(m.first_spike_times(ex.input_times, ex.weights_after)[0, 0])
    sl = float(m.slope_at_threshold(ex.input_times, ex.weights_before)[0, 0])
    rows += [("(c) |w - w'|_inf", "example", ex.perturbation), ("(c) t* before", "example", t_b),
             ("(c) t* after", "example", t_a), ("(c) slope before", "example", sl)]
    if p["model"] == "lif":
        g = R.late_rescue_example(m, d)
        t_b = float(m.first_spike_times(g.input_times, g.weights_before)[0, 0])
        t_a = float(m.first_spike_times(g.input_times, g.weights_after)[0, 0])
        rows += [("(b) |w - w'|_inf", "example", g.perturbation), ("(b) t* jump", "example", t_a - t_b),
                 ("(b) Lipschitz quotient >=", "example", (t_a - t_b) / g.perturbation)]
    k = R.causal_kink_example(m)
    rows += [("(d) dt*/dw_1 above the kink", "example", k.derivative_above),
             ("(d) dt*/dw_1 below the kink", "example", k.derivative_below)]
    return rows


def _discretisation(p: dict) -> list[tuple[str, str, float]]:

    m, dt, s = _model(p), p["dt"], p["s_min"]
    w = _weights(p)
    d2 = p["D2"] if p["D2"] != "auto" else R.potential_derivative_bound(m, 2, p["n"], **w).value
    d4 = p["D4"] if p["D4"] != "auto" else R.potential_derivative_bound(m, 4, p["n"], **w).value
    rows = [("D_2 >= |V''|", "upper", d2), ("D_4 >= |V''''|", "upper", d4)]
    b = R.clock_driven_error_bound(dt, s, d2)
    rows.append(("plain: t_rec - t* <", b.kind, b.value))
    b = R.interpolated_crossing_error_bound(dt, s, d2, method="linear")
    rows.append(("linear: |t_lin - t*| <=", b.kind, b.value))
    b = R.interpolated_crossing_error_bound(dt, s, d2, d4, method="hermite")
    rows.append(("cubic Hermite: |t_cubic - t*| <=", b.kind, b.value))
    return rows


def _federated(p: dict) -> list[tuple[str, str, float]]:

    m, s, n, tx = _model(p), p["s_min"], p["n"], p["tau_xi"]
    w = _weights(p)
    args = (m, s, n, tx)
    G = R.ttfs_loss_gradient_bound(*args).value
    L = R.ttfs_loss_smoothness_bound(*args, **w).value
    T, I, N, B, f0 = int(p["T"]), int(p["I"]), int(p["N"]), int(p["B"]), p["f0"]
    gamma = p["gamma"] if p["gamma"] != "auto" else R.ttfs_local_sgd_step_size(*args, T, I, N, B, f0, **w)
    b = R.ttfs_local_sgd_bound(*args, T, gamma, I, N, B, f0, **w)
    return [("G (Corollary 1)", "upper", G), ("L (Corollary 1)", "upper", L), ("step gamma", "value", gamma),
            ("(1/T) sum E||grad f||^2 <=", b.kind, b.value)]


def _smoothed(p: dict) -> list[tuple[str, str, float]]:

    lo, hi = SM.ttfs_cross_entropy_range(int(p["K"]), p["t_max"], p["tau_xi"])
    cap = float(p["cap"])
    if not cap > lo:
        raise ValueError(f"cap must exceed the loss's lower end {lo:.6g}, got {cap}")
    M, sigma = min(hi, cap) - lo, p["sigma"]
    L = SM.smoothed_smoothness(M, sigma)
    var = SM.two_point_oracle_variance(M, sigma, int(p["d"]), int(p["m"]), int(p["B"]))
    G2 = SM.smoothed_gradient_bound(M, sigma) ** 2 + var
    N, I, R, delta = int(p["N"]), int(p["I"]), int(p["R"]), p["Delta"]
    gamma = p["gamma"] if p["gamma"] != "auto" else SM.smoothed_local_sgd_step_size(delta, L, G2, var, I, R, 1.0 / N)
    if not 0 < gamma <= 1.0 / L:
        raise ValueError(f"gamma must be in (0, 1/L] = (0, {1.0 / L:.6g}] (Theorem 5's condition), got {gamma}")
    bound = SM.smoothed_local_sgd_bound(delta, L, G2, var, gamma, I, R, 1.0 / N)
    return [("loss range M", "value", M), ("L = 2 phi(1) M / sigma^2", "tight", L),
            ("sup ||grad f_sigma||^2 = M^2/(2 pi sigma^2)", "tight", SM.smoothed_gradient_bound(M, sigma) ** 2),
            ("oracle variance sigma_v^2 <=", "upper", var), ("step gamma", "value", gamma),
            ("(1/R) sum_r E||grad f(x_rI)||^2 <=", "upper", bound)]


def _communication(p: dict) -> list[tuple[str, str, float]]:

    d = int(p["d"])
    rho = R.spike_causal_density(p["q"], int(p["M"])).value
    bits = R.spike_causal_bits_bound(d, rho).value
    return [("E[density] = 1 - (1 - q)^M", "tight", rho), ("E[bits] spike-causal <=", "upper", bits),
            ("dense float32 bits", "value", float(bounds.dense_float32_bits(d))),
            ("QSGD s=sqrt(d) bits <=", "upper", bounds.qsgd_dense_bits_bound(d).value),
            ("top-k bits at k = E[nnz]", "value", float(bounds.topk_bits(d, max(1, round(rho * d))))),
            ("support bits, entropy-coded d H2(rho) (i.i.d.) >=", "lower", R.support_entropy_bits(d, rho).value),
            ("uplink bits to eps: R(eps) N E[bits]", "upper",
             R.spike_causal_bits_to_epsilon(p["rounds"], int(p["N"]), bits))]


def _latex_regularity() -> list[str]:
    from fsnn_theory.theory import symbolic as S

    return [f"{k} = {S.latex(v)}" for k, v in S.regularity_bound_expressions().items()]


def _latex_discretisation() -> list[str]:
    from fsnn_theory.theory import symbolic as S

    return [f"{k} = {S.latex(v)}" for k, v in S.discretisation_bound_expressions().items()]


MARGIN_PARAMS: dict[str, tuple[object, str]] = {
    "s_min": (0.1, "margin: slope at threshold >= s_min (1/ms)"),
    "n": (10, "number of causal inputs"),
    "W": (1.0, "bound on |w_i| over causal inputs"),
    "W1": ("inf", "bound on sum |w_i| over causal inputs (optional)"),
}

THEOREMS: dict[str, Theorem] = {
    t.name: t
    for t in (
        Theorem("spike_time_regularity", {**MODEL_PARAMS, **MARGIN_PARAMS}, _regularity, _latex_regularity),
        Theorem("ttfs_loss_smoothness", {**MODEL_PARAMS, **MARGIN_PARAMS, "tau_xi": (0.5, "softmax temperature (ms)")},
                _loss, _latex_regularity),
        Theorem("no_global_lipschitz", {**MODEL_PARAMS, "delta": (1e-3, "relative weight perturbation")}, _lipschitz),
        Theorem(
            "clock_driven_error",
            {**MODEL_PARAMS, **MARGIN_PARAMS, "dt": (0.01, "time step (ms)"),
             "D2": ("auto", "bound on |V''| (auto: A kappa''_max)"),
             "D4": ("auto", "bound on |V| (auto: A kappa_max)")},
            _discretisation,
            _latex_discretisation,
        ),
        Theorem(
            "federated_ttfs_convergence",
            {**MODEL_PARAMS, **MARGIN_PARAMS, "tau_xi": (0.5, "softmax temperature (ms)"),
             "T": (1000, "total local steps"), "I": (5, "averaging interval"), "N": (10, "workers"),
             "B": (16, "mini-batch"), "f0": (1.1, "f(x_0) - f* (cross-entropy: f(x_0))"),
             "gamma": ("auto", "step size (auto: balanced, capped at 1/L)")},
            _federated,
        ),
        Theorem(
            "smoothed_federated_convergence",
            {"K": (3, "classes"), "t_max": (3.0, "readout window (ms)"), "tau_xi": (0.1, "softmax temperature (ms)"),
             "cap": (5.0, "per-sample loss cap (inf: none)"),
             "sigma": (1.5, "smoothing scale"), "d": (15, "number of weights"), "m": (256, "oracle directions"),
             "B": (32, "mini-batch"), "N": (10, "clients"), "I": (1, "local steps per round"),
             "R": (200, "rounds"), "Delta": (2.3, "f(x_0) - inf f"),
             "gamma": ("auto", "step size (auto: minimises the bound, capped at 1/L)")},
            _smoothed,
        ),
        Theorem(
            "spike_causal_communication",
            {"q": (0.05, "causal probability P(t_i < t_j < inf)"), "M": (32, "presentations per round (B E)"),
             "d": (600, "number of weights"), "N": (10, "clients"), "rounds": (100, "rounds to eps")},
            _communication,
        ),
    )
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default=None, help="theorem name (omit to list them)")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="constants, e.g. --set model=nlif tau_s=1 s_min=0.1 n=10 W=1")
    parser.add_argument("--latex", action="store_true", help="also print the LaTeX of the formulas")


def _parse_set(theorem: Theorem, items: list[str]) -> dict:
    params = {k: v[0] for k, v in theorem.params.items()}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in theorem.params:
            allowed = ", ".join(theorem.params)
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {allowed}")
        if key == "model" or raw == "auto":
            params[key] = raw
        elif isinstance(theorem.params[key][0], int):
            try:
                params[key] = int(raw)
            except ValueError:
                raise ValueError(f"--set {key} must be an integer, got {raw!r}") from None
        else:
            try:
                params[key] = float(raw)
            except ValueError:
                raise ValueError(f"--set {key} must be a number, got {raw!r}") from None
    return params


def explain(name: str, items: list[str] | None = None, latex: bool = False) -> str:
    """The text ``fsnn explain NAME --set ...`` prints (raises ValueError on bad input)."""

    if name not in THEOREMS:
        raise ValueError(f"unknown theorem {name!r}; known: {', '.join(THEOREMS)}")
    th = THEOREMS[name]
    params = _parse_set(th, items or [])
    rows = th.evaluate(params)
    st = th.statement()
    lines = [st.heading, "=" * len(st.heading), "", "Statement:",
             *("  " + ln for ln in st.statement_text().splitlines()),
             "", "Assumptions:", *(f"  - {a}" for a in st.assumptions),
             "", "Constants:", *(f"  - {c}" for c in st.constants), "",
             "Values for " + ", ".join(f"{k}={v}" for k, v in params.items()) + ":",
             format_table(["quantity", "kind", "value"], [[q, k, f"{float(v):.6g}"] for q, k, v in rows]),
             "", f"Proof: proofs/{name}.md (checked by proofs/check_{name}.py)"]
    if latex:
        lines += ["", "LaTeX:", *("  " + ln for ln in th.latex())]
    return "\n".join(lines)


def handler(args: argparse.Namespace) -> int:
    import sys


    if args.name is None:
        try:
            rows = [[t.name, t.statement().heading] for t in THEOREMS.values()]
        except (OSError, ValueError) as exc:  # no checkout, or a garbled front matter
            print(f"fsnn explain: error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(format_table(["theorem", "title"], rows))
        return EXIT_OK
    try:
        print(explain(args.name, args.set, args.latex))
    except (OSError, ValueError) as exc:  # FrontMatterError is a ValueError
        print(f"fsnn explain: error: {exc}", file=sys.stderr)
        return EXIT_FAILED if isinstance(exc, (OSError, FrontMatterError)) else EXIT_USAGE
    return EXIT_OK


