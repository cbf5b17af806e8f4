r"""Communication, computation and energy accounting of a federated run.

Energy per operation (45 nm CMOS, 32-bit float; Horowitz, "Computing's energy problem (and what we
can do about it)", ISSCC 2014): a synaptic event of a spiking network is one accumulate,
:math:`E_{AC} = 0.9` pJ; a multiply-accumulate of a dense (non-spiking) model costs
:math:`E_{MAC} = 4.6` pJ. A spiking network's inference cost is SynOps × E_AC, with
SynOps = Σ over spikes of their fan-out; a dense model's is MACs × E_MAC.

Training events (a convention, stated once here): one local SGD step on a batch costs its forward
events plus the same number again for the backward pass. For a time-to-first-spike network the
exact gradient touches each causal synapse of each sample once (∂t_j/∂w_ij is non-zero only there),
and every causal synapse carried a forward event, so "backward = forward" is an upper bound on the
backward events; for a dense model the backward pass :math:`X^\top(P - Y)` costs exactly the
forward pass's MACs.
"""

from __future__ import annotations

from fsnn_theory._validation import check_int, check_nonnegative
from fsnn_theory.network import ENERGY_PER_MAC_PJ, ENERGY_PER_SYNOP_PJ
from fsnn_theory.theory.bounds import dense_float32_bits

__all__ = [
    "ENERGY_PER_SYNOP_PJ",
    "ENERGY_PER_MAC_PJ",
    "energy_per_operation_pj",
    "energy_joules",
    "training_events",
    "downlink_bits",
]

# The per-operation energies are defined once, next to the synaptic-event counts of the network
# (Horowitz, ISSCC 2014, 45 nm: accumulate 0.9 pJ, 32-bit float multiply-accumulate 4.6 pJ).


def energy_per_operation_pj(operation: str) -> float:
    """0.9 pJ for ``"synop"`` (spiking: one accumulate per synaptic event), 4.6 pJ for ``"mac"``."""
    if operation == "synop":
        return ENERGY_PER_SYNOP_PJ
    if operation == "mac":
        return ENERGY_PER_MAC_PJ
    raise ValueError(f"operation must be 'synop' or 'mac', got {operation!r}")


def energy_joules(operations: float, operation: str) -> float:
    r"""Energy of ``operations`` events: :math:`E = n_{ops} \cdot e_{op} \cdot 10^{-12}` J (Horowitz 2014)."""
    return check_nonnegative("operations", operations) * energy_per_operation_pj(operation) * 1e-12


def training_events(forward_events: float) -> float:
    """Events of one training step from its forward events: forward + backward = 2 × forward (module doc)."""
    return 2.0 * check_nonnegative("forward_events", forward_events)


def downlink_bits(d: int, receivers: int, vectors: int = 1, value_bits: int = 32) -> int:
    """Bits of a dense broadcast of ``vectors`` d-vectors to ``receivers`` clients.

    ``value_bits`` 32 (float32, :func:`~fsnn_theory.theory.bounds.dense_float32_bits`) or 64.
    SCAFFOLD broadcasts two vectors (model and server control variate).
    """
    d = check_int("d", d, low=1)
    receivers = check_int("receivers", receivers, low=0)
    vectors = check_int("vectors", vectors, low=1)
    if value_bits == 32:
        per = int(dense_float32_bits(d))
    elif value_bits == 64:
        per = 64 * d
    else:
        raise ValueError(f"value_bits must be 32 or 64, got {value_bits!r}")
    return receivers * vectors * per
