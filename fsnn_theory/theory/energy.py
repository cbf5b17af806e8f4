r"""Energy of federated training on a device: per-operation energies, radio power models, device profiles.

Pure formulas and frozen, validated records; nothing here runs a model. Operation counts come from
the models layer (`fsnn_theory.opcounts`, `fsnn_theory.ann`); this module turns counts and bits
into joules.

**Computation** (:func:`compute_joules`): every operation and 32-bit memory word of an
:class:`~fsnn_theory.opcounts.OperationCounts` priced at one technology point, Horowitz's 45 nm
table (:data:`HOROWITZ_45NM`), times the device's ``technology_factor`` (real chips differ from
45 nm; the factor is a stated assumption, 1.0 by default):

.. math:: E_{comp} = f_{tech}\,(n_{mul} e_{mul} + (n_{add} + n_{cmp}) e_{add}
          + (n_{rd} + n_{wr}) e_{sram}).

A comparison is priced as an addition (a subtraction and a sign test).

**Radio** (:func:`transfer_joules`): Huang et al. (MobiSys 2012) model the power of a radio that
moves data at uplink throughput :math:`t_u` or downlink :math:`t_d` (Mbit/s) as
:math:`P = \alpha_u t_u + \alpha_d t_d + \beta`; after a transfer the radio stays in a high-power
*tail* state for :math:`T_{tail}` at :math:`P_{tail}`. A transfer of b bits in one direction at the
profile's throughput t therefore costs

.. math:: E(b) = \frac{b}{t}\,(\alpha t + \beta) + P_{tail} T_{tail},

so the energy per bit of a long transfer is :math:`\alpha + \beta/t` (:func:`radio_joules_per_bit`).
A federated round is one downlink transfer (the broadcast) and one uplink transfer (the update) per
participating client; each pays one tail (an upper bound when the local work is shorter than the
tail, since then the two tails overlap).

**Crossover** (:func:`crossover_joules_per_bit`): with :math:`E_c` the computation energy and
:math:`b` the bits of a run, communication dominates exactly when the energy per bit exceeds
:math:`\varepsilon^* = E_c / b` (tails left out: they do not scale with bits).

Provenance of the numbers (what was read, what was recalled; each record's docstring repeats it):

* Horowitz 2014: float32 add 0.9 pJ, float32 mult 3.7 pJ, int32 add 0.1 pJ, int32 mult 3.1 pJ,
  and an 8 kB SRAM (cache) access of 64 bits at 10 pJ (so 5 pJ per 32-bit word) were **read** from
  a stored third-party table that quotes Horowitz's 45 nm / 0.9 V table (PMC8934428, Table 3).
  The 8-bit integer add 0.03 pJ / mult 0.2 pJ and DRAM 1.3-2.6 nJ per 64-bit access are
  **recalled** from Horowitz's slide, not read.
* Huang et al. 2012: the median LTE throughputs of 4GTest users, 13 Mbit/s down and 6 Mbit/s up,
  were **read** in the stored abstract. The power-model coefficients (Table 3 of the paper:
  LTE :math:`\alpha_u = 438.39`, :math:`\alpha_d = 51.97` mW/Mbit/s, :math:`\beta = 1288.04` mW;
  WiFi :math:`\alpha_u = 283.17`, :math:`\alpha_d = 137.01`, :math:`\beta = 132.86` mW), the LTE tail
  (11.576 s at 1060.04 mW) and WiFi tail (0.238 s at 119.34 mW) and the WiFi throughputs are
  **recalled**, not read: the stored copies show the first page only. Check them against the
  paper's Tables 3-4 before relying on the third significant digit.
* Siekkinen et al. 2012 (BLE): **recalled**, not read (the stored copy shows the abstract only):
  a BLE link (TI CC2540) at its maximal application throughput of about 58 kbit/s draws about
  8.3 mW above idle, i.e. about 0.14 µJ per bit; no tail (the link is connection-event driven).
  Treat the BLE figures as order-of-magnitude values.
* Device memory budgets and technology factors are assumptions of this toolkit (stated per profile),
  except the 256 KB SRAM microcontroller, the setting of Lin et al., NeurIPS 2022 (**read** in the
  stored abstract: "a microcontroller with only 256KB SRAM").

References
----------
- M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 10-14.
- J. Huang, F. Qian, A. Gerber, Z. M. Mao, S. Sen, O. Spatscheck, "A close examination of
  performance and power characteristics of 4G LTE networks", MobiSys 2012.
- M. Siekkinen, M. Hiienkari, J. K. Nurminen, J. Nieminen, "How low energy is Bluetooth Low
  Energy? Comparative measurements with ZigBee/802.15.4", IEEE WCNC Workshops 2012.
- J. Lin, L. Zhu, W.-M. Chen, W.-C. Wang, C. Gan, S. Han, "On-device training under 256KB
  memory", NeurIPS 2022.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Mapping

from fsnn_theory._validation import check_choice, check_nonnegative, check_positive

__all__ = [
    "OperationEnergies",
    "HOROWITZ_45NM",
    "RadioModel",
    "RADIOS",
    "DeviceProfile",
    "DEVICE_PROFILES",
    "device_profile",
    "compute_joules",
    "transfer_joules",
    "radio_joules_per_bit",
    "round_radio_joules",
    "crossover_joules_per_bit",
]


def _check_finite_nonnegative(owner: str, name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be a number >= 0, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{owner}.{name} must be finite and >= 0, got {value!r}")
    return v


def _check_finite_positive(owner: str, name: str, value) -> float:
    v = _check_finite_nonnegative(owner, name, value)
    if v == 0:
        raise ValueError(f"{owner}.{name} must be > 0, got {value!r}")
    return v


@dataclass(frozen=True)
class OperationEnergies:
    r"""Energy per operation in picojoules at one technology point.

    ``float_add``, ``float_mult``: 32-bit floating point; ``int8_add``, ``int8_mult``: 8-bit
    integer; ``sram_word``: one 32-bit read or write of a small on-chip SRAM; ``dram_word``: one
    32-bit DRAM access. All finite and >= 0 (ValueError naming the field otherwise).
    """

    name: str
    float_add: float
    float_mult: float
    int8_add: float
    int8_mult: float
    sram_word: float
    dram_word: float
    source: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name not in ("name", "source"):
                _check_finite_nonnegative("OperationEnergies", f.name, getattr(self, f.name))

    @property
    def mac(self) -> float:
        """One float32 multiply-accumulate (a multiplication plus an addition), pJ."""
        return self.float_mult + self.float_add


HOROWITZ_45NM = OperationEnergies(
    name="horowitz-45nm",
    float_add=0.9,    # read (via PMC8934428 Table 3, quoting Horowitz 2014)
    float_mult=3.7,   # read (idem)
    int8_add=0.03,    # recalled from Horowitz 2014
    int8_mult=0.2,    # recalled from Horowitz 2014
    sram_word=5.0,    # read: 8 kB cache, 64-bit access 10 pJ (idem), halved for a 32-bit word
    dram_word=650.0,  # recalled: DRAM 1.3-2.6 nJ per 64-bit access, lower end halved
    source="Horowitz, ISSCC 2014, 45 nm, 0.9 V (see the module docstring for what was read and recalled)",
)
"""Horowitz's 45 nm table: the one technology point every device profile scales."""


@dataclass(frozen=True)
class RadioModel:
    r"""Huang et al.'s throughput-linear radio power model (MobiSys 2012), per direction.

    :math:`P_{up}(t_u) = \alpha_u t_u + \beta`, :math:`P_{down}(t_d) = \alpha_d t_d + \beta`
    (mW, t in Mbit/s); ``tail_seconds`` at ``tail_mw`` after each transfer.
    ``alpha_up_mw_per_mbps``, ``alpha_down_mw_per_mbps``, ``base_mw``, ``tail_mw``, ``tail_seconds``
    finite and >= 0.
    """

    name: str
    alpha_up_mw_per_mbps: float
    alpha_down_mw_per_mbps: float
    base_mw: float
    tail_mw: float
    tail_seconds: float
    source: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name not in ("name", "source"):
                _check_finite_nonnegative("RadioModel", f.name, getattr(self, f.name))


RADIOS: Mapping[str, RadioModel] = {
    "lte": RadioModel(
        "lte", 438.39, 51.97, 1288.04, 1060.04, 11.576,
        source="Huang et al., MobiSys 2012, Tables 3-4 (LTE power model and tail; RECALLED, not read)",
    ),
    "wifi": RadioModel(
        "wifi", 283.17, 137.01, 132.86, 119.34, 0.238,
        source="Huang et al., MobiSys 2012, Tables 3-4 (WiFi power model and tail; RECALLED, not read)",
    ),
    # BLE: energy per bit at full throughput ~ 8.3 mW / 58 kbit/s; expressed as a base power with
    # no throughput term, no tail (connection-event driven).
    "ble": RadioModel(
        "ble", 0.0, 0.0, 8.3, 0.0, 0.0,
        source="Siekkinen et al., WCNC Workshops 2012 (CC2540, ~58 kbit/s, ~8.3 mW; RECALLED, not read)",
    ),
}
"""The radio models by name (users may build their own :class:`RadioModel`)."""


@dataclass(frozen=True)
class DeviceProfile:
    r"""A client device: technology factor, radio and its throughputs, memory budget.

    ``technology_factor`` (> 0) multiplies every energy of :data:`HOROWITZ_45NM` (1.0 = the 45 nm
    point); ``radio`` a :class:`RadioModel`; ``uplink_mbps``, ``downlink_mbps`` (> 0) the
    throughputs at which the radio moves the model; ``memory_bytes`` (> 0) the RAM available for
    training; ``source`` says where each field comes from. Invalid fields raise ValueError naming
    the field (e.g. ``DeviceProfile.uplink_mbps must be > 0``).
    """

    name: str
    technology_factor: float
    radio: RadioModel
    uplink_mbps: float
    downlink_mbps: float
    memory_bytes: float
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"DeviceProfile.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.radio, RadioModel):
            raise ValueError(f"DeviceProfile.radio must be a RadioModel, got {type(self.radio).__name__}")
        for name in ("technology_factor", "uplink_mbps", "downlink_mbps", "memory_bytes"):
            _check_finite_positive("DeviceProfile", name, getattr(self, name))


DEVICE_PROFILES: Mapping[str, DeviceProfile] = {
    "mcu-ble": DeviceProfile(
        "mcu-ble", 1.0, RADIOS["ble"], 0.058, 0.058, 256 * 1024,
        source="memory: 256 KB SRAM, the microcontroller of Lin et al. NeurIPS 2022 (read); radio and "
               "throughput: Siekkinen et al. 2012 (recalled); technology factor 1.0 (assumption: the 45 nm point)",
    ),
    "phone-lte": DeviceProfile(
        "phone-lte", 1.0, RADIOS["lte"], 6.0, 13.0, 4 * 1024**3,
        source="radio: Huang et al. 2012 LTE model (recalled), throughputs: median 6 Mbit/s up, 13 Mbit/s down "
               "(read in their abstract); memory 4 GiB and technology factor 1.0 (assumptions)",
    ),
    "headset-wifi": DeviceProfile(
        "headset-wifi", 1.0, RADIOS["wifi"], 4.0, 8.0, 8 * 1024**3,
        source="radio: Huang et al. 2012 WiFi model (recalled); throughputs 4 Mbit/s up, 8 Mbit/s down "
               "(recalled order of their WiFi measurements, an assumption); memory 8 GiB and technology "
               "factor 1.0 (assumptions)",
    ),
}
"""Built-in device profiles (at least a microcontroller with BLE, a phone with LTE, a headset with WiFi)."""


def device_profile(name: str) -> DeviceProfile:
    """The built-in profile ``name``; ValueError listing the known names otherwise."""
    return DEVICE_PROFILES[check_choice("device", name, tuple(DEVICE_PROFILES))]


def compute_joules(fmul: float, fadd: float, compare: float, sram_words: float,
                   technology_factor: float = 1.0,
                   energies: OperationEnergies = HOROWITZ_45NM) -> float:
    r"""Computation energy in joules (module docstring):
    :math:`f_{tech}(n_{mul} e_{mul} + (n_{add}+n_{cmp}) e_{add} + n_{sram} e_{sram}) \cdot 10^{-12}`.

    Counts are float32 multiplications, additions, comparisons and 32-bit SRAM words moved
    (reads plus writes); energies from Horowitz 2014 (:data:`HOROWITZ_45NM`).
    """
    fmul = check_nonnegative("fmul", fmul)
    fadd = check_nonnegative("fadd", fadd)
    compare = check_nonnegative("compare", compare)
    sram_words = check_nonnegative("sram_words", sram_words)
    technology_factor = check_positive("technology_factor", technology_factor)
    pj = fmul * energies.float_mult + (fadd + compare) * energies.float_add + sram_words * energies.sram_word
    return technology_factor * pj * 1e-12


def _direction(direction: str) -> str:
    return check_choice("direction", direction, ("up", "down"))


def radio_joules_per_bit(radio: RadioModel, throughput_mbps: float, direction: str) -> float:
    r"""Energy per bit of a long transfer, :math:`(\alpha t + \beta)/t` in J/bit (Huang et al. 2012).

    With P in mW and t in Mbit/s, :math:`P/t` is in mJ/Mbit = nJ/bit, hence the factor 1e-9.
    """
    t = check_positive("throughput_mbps", throughput_mbps)
    alpha = radio.alpha_up_mw_per_mbps if _direction(direction) == "up" else radio.alpha_down_mw_per_mbps
    return (alpha * t + radio.base_mw) / t * 1e-9


def transfer_joules(bits: float, radio: RadioModel, throughput_mbps: float, direction: str,
                    transfers: float = 1.0) -> float:
    r"""Energy of ``bits`` moved in ``transfers`` transfers in one direction (Huang et al. 2012):
    :math:`b\,(\alpha t + \beta)/t + n_{transfers} P_{tail} T_{tail}` in joules.
    """
    bits = check_nonnegative("bits", bits)
    transfers = check_nonnegative("transfers", transfers)
    tail = radio.tail_mw * 1e-3 * radio.tail_seconds
    return bits * radio_joules_per_bit(radio, throughput_mbps, direction) + transfers * tail


def round_radio_joules(uplink_bits: float, downlink_bits: float, transfers_up: float, transfers_down: float,
                       profile: DeviceProfile) -> tuple[float, float]:
    """(uplink, downlink) radio joules of ``uplink_bits`` / ``downlink_bits`` on ``profile``'s radio.

    One transfer per message and direction (a client's update; its broadcast), each with one tail.
    """
    up = transfer_joules(uplink_bits, profile.radio, profile.uplink_mbps, "up", transfers_up)
    down = transfer_joules(downlink_bits, profile.radio, profile.downlink_mbps, "down", transfers_down)
    return up, down


def crossover_joules_per_bit(compute_j: float, bits: float) -> float:
    r"""Radio energy per bit above which communication dominates: :math:`\varepsilon^* = E_c / b`.

    ``compute_j`` > 0 joules of computation, ``bits`` > 0 bits communicated (both directions) by the
    same run. Tail energies are not per-bit and are left out.
    """
    return check_positive("compute_j", compute_j) / check_positive("bits", bits)
