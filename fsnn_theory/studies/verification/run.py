"""Configuration of ``fsnn verify`` (quick / full) and the loop over its cases."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from fsnn_theory._validation import check_choice
from fsnn_theory.studies.verification.cases import li2020_case, qsgd_variance_case
from fsnn_theory.studies.verification.ef21 import ef21_case
from fsnn_theory.studies.verification.problems import ConvexSetting, convex_problem
from fsnn_theory.studies.verification.worst_case import field_guide_quadratic_case

__all__ = ["MODES", "CASE_GROUPS", "verification_config", "case_list", "run_case", "run_verification"]

MODES: tuple[str, ...] = ("quick", "full")
CASE_GROUPS: tuple[str, ...] = ("li2020", "worst_case", "compression")


def verification_config(mode: str) -> dict[str, Any]:
    """Sizes of every case for ``mode`` (JSON-serialisable; the experiments use the same dicts).

    Horizons grow with E because Li et al.'s bound carries :math:`8(E-1)^2G^2`: it drops below
    the initial gap only after about :math:`32\\kappa(E-1)^2` steps, and at least half of the
    20 log-spaced checkpoints (from horizon/100) must be informative. The control's
    :math:`\\beta\\mu` (the proof needs > 1) is the smallest violation factor that the bound's slack
    lets show with some margin: measured on the quick horizons (Dir 0.1, 10 seeds), beta*mu = 0.5
    (2x) is never caught, 0.4 (2.5x) is caught at E = 1 (9 violations) but not at E = 2, 0.25 (4x) at
    E = 1 and 2 (17 and 9) but not at E = 5, where 0.1 (10x) is used."""
    check_choice("mode", mode, MODES)
    quick = mode == "quick"
    seeds = list(range(10)) if quick else list(range(20))
    li = [  # (scheme, partition, E, horizon, control beta*mu)
        ("full", "iid", 1, 2000, 0.25), ("full", "dirichlet:0.1", 1, 2000, 0.25),
        ("full", "iid", 2, 4000, 0.25), ("full", "dirichlet:0.1", 2, 4000, 0.25),
        ("full", "iid", 5, 20000, 0.1), ("full", "dirichlet:0.1", 5, 20000, 0.1),
        ("I", "dirichlet:0.1", 1, 2000, 0.25), ("I", "dirichlet:0.1", 2, 4000, 0.25),
        ("II", "iid", 1, 2000, 0.25), ("II", "iid", 2, 4000, 0.25),
    ]
    if not quick:
        li = [(sch, p, E, 5 * H, bm) for sch, p, E, H, bm in li] + [
            ("full", "dirichlet:1", 1, 10000, 0.25), ("full", "dirichlet:1", 5, 100000, 0.1),
            ("full", "dirichlet:0.1", 10, 100000, 0.1)]
    return {
        "convex": asdict(ConvexSetting()),
        "li2020": {"cases": [{"scheme": s, "partition_spec": p, "local_steps": E, "horizon": H,
                              "control_beta_mu": bm} for s, p, E, H, bm in li],
                   "seeds": seeds, "clients_per_round": 5},
        "worst_case": {"L": 1.0, "D": 10.0, "sigma2": 0.01, "M": 4, "local_steps": [1, 4],
                       "rounds": 1000 if quick else 10000, "seeds": seeds, "control_eta_L": 1.9},
        "compression": {"partition": "iid", "qsgd_levels": 16, "qsgd_control_levels": 2,
                        "messages": 20, "ef21_k_fraction": 0.25, "ef21_horizon": 2000 if quick else 20000},
    }


def case_list(config: dict[str, Any], groups: Sequence[str] = CASE_GROUPS) -> list[tuple[str, str, dict]]:
    """(chunk key, case function name, keyword arguments) for every case of ``config``."""
    out = []
    if "li2020" in groups:
        c = config["li2020"]
        for kw in c["cases"]:
            key = f"li_{kw['scheme']}_E{kw['local_steps']}_{kw['partition_spec'].replace(':', '')}_T{kw['horizon']}"
            out.append((key, "li2020", {**kw, "seeds": list(c["seeds"]),
                                        "clients_per_round": None if kw["scheme"] == "full"
                                        else c["clients_per_round"]}))
    if "worst_case" in groups:
        c = config["worst_case"]
        for tau in c["local_steps"]:
            out.append((f"fieldguide_quadratic_tau{tau}_T{c['rounds']}", "field_guide_quadratic",
                        {"L": c["L"], "D": c["D"], "sigma2": c["sigma2"], "M": c["M"], "tau": tau,
                         "rounds": c["rounds"], "seeds": list(c["seeds"]), "control_eta_L": c["control_eta_L"]}))
    if "compression" in groups:
        c = config["compression"]
        out.append(("qsgd_variance", "qsgd_variance", {"partition_spec": c["partition"], "levels": c["qsgd_levels"],
                                                         "control_levels": c["qsgd_control_levels"],
                                                         "messages": c["messages"]}))
        out.append((f"ef21_T{c['ef21_horizon']}", "ef21", {"partition_spec": c["partition"],
                                                            "k_fraction": c["ef21_k_fraction"],
                                                            "horizon": c["ef21_horizon"]}))
    return out


_CASES = {"li2020": li2020_case, "qsgd_variance": qsgd_variance_case, "ef21": ef21_case,
          "field_guide_quadratic": lambda problem, **kw: field_guide_quadratic_case(**kw)}


def run_case(problem, name: str, kwargs: dict) -> pd.DataFrame:
    """Run one case of :func:`case_list` on ``problem``."""
    check_choice("case", name, tuple(_CASES))
    return _CASES[name](problem, **kwargs)


def run_verification(mode: str, progress: Callable[[Iterable, str], Iterable] | None = None,
                     groups: Sequence[str] = CASE_GROUPS) -> pd.DataFrame:
    """Run every case of ``verification_config(mode)`` (or the ``groups`` given); the curves."""
    cfg = verification_config(mode)
    wrap = progress if progress is not None else (lambda it, desc: it)
    cases = case_list(cfg, groups)
    needs_problem = any(name != "field_guide_quadratic" for _, name, _ in cases)
    problem = convex_problem(ConvexSetting(**cfg["convex"])) if needs_problem else None
    frames = [run_case(problem, name, kw) for key, name, kw in wrap(cases, "cases")]
    return pd.concat(frames, ignore_index=True)
