"""Energy accounting: device records, radio formula, MLP gradient, operation counts, counting wrapper."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from fsnn_theory.ann import MLPClassifier
from fsnn_theory.opcounts import (
    CountingModel,
    OperationCounts,
    memory_bytes,
    snn_memory_per_sample,
    snn_training_counts,
    training_memory_words,
    transcendental,
)
from fsnn_theory.theory import energy as en


# ---------------------------------------------------------------- records and formulas

@pytest.mark.parametrize("field,value", [("uplink_mbps", 0.0), ("downlink_mbps", -1.0), ("technology_factor", 0.0),
                                         ("memory_bytes", math.nan), ("uplink_mbps", math.inf)])
def test_bad_device_profile_names_the_field(field, value):
    good = en.DEVICE_PROFILES["phone-lte"]
    with pytest.raises(ValueError, match=f"DeviceProfile.{field}"):
        dataclasses.replace(good, **{field: value})


def test_negative_energies_and_unknown_profile_are_rejected():
    with pytest.raises(ValueError, match="RadioModel.base_mw"):
        dataclasses.replace(en.RADIOS["lte"], base_mw=-1.0)
    with pytest.raises(ValueError, match="OperationEnergies.float_mult"):
        dataclasses.replace(en.HOROWITZ_45NM, float_mult=-3.7)
    with pytest.raises(ValueError, match="device must be one of"):
        en.device_profile("toaster")


def test_transfer_energy_is_time_times_power_plus_tail():
    # independent derivation: time = bits / (Mbit/s * 1e6), power = (alpha t + beta) mW
    radio = en.RADIOS["lte"]
    bits, t = 3.2e6, 6.0
    seconds = bits / (t * 1e6)
    power_w = (radio.alpha_up_mw_per_mbps * t + radio.base_mw) * 1e-3
    tail = radio.tail_mw * 1e-3 * radio.tail_seconds
    assert en.transfer_joules(bits, radio, t, "up", transfers=2) == pytest.approx(seconds * power_w + 2 * tail, rel=1e-12)
    down = (radio.alpha_down_mw_per_mbps * 13.0 + radio.base_mw) * 1e-3 * bits / 13e6
    assert en.transfer_joules(bits, radio, 13.0, "down", transfers=0) == pytest.approx(down, rel=1e-12)


def test_compute_joules_prices_each_operation_and_scales_by_technology():
    e = en.HOROWITZ_45NM
    j = en.compute_joules(10, 20, 5, 7, technology_factor=2.5)
    assert j == pytest.approx(2.5 * 1e-12 * (10 * e.float_mult + 25 * e.float_add + 7 * e.sram_word))
    # the MAC of the old accounting (4.6 pJ) is one mult plus one add here
    from fsnn_theory.federated import ENERGY_PER_MAC_PJ, ENERGY_PER_SYNOP_PJ
    assert e.mac == pytest.approx(ENERGY_PER_MAC_PJ) and e.float_add == pytest.approx(ENERGY_PER_SYNOP_PJ)


# ---------------------------------------------------------------- the MLP baseline

def test_mlp_gradient_matches_finite_differences():
    model = MLPClassifier((4, 7, 3))
    rng = np.random.default_rng(1)
    w = model.init_params(0) + 0.1 * rng.normal(size=model.n_params)
    X, y = rng.random((9, 4)), rng.integers(0, 3, 9)
    _, g = model.loss_and_grad(w, X, y)
    h = 1e-6
    fd = np.array([(model.loss(w + h * e, X, y) - model.loss(w - h * e, X, y)) / (2 * h)
                   for e in np.eye(model.n_params)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


def test_mlp_rejects_bad_input():
    with pytest.raises(ValueError, match="layer_sizes"):
        MLPClassifier((4,))
    model = MLPClassifier((4, 5, 3))
    with pytest.raises(ValueError, match="params"):
        model.loss(np.zeros(3), np.zeros((2, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="y must be"):
        model.loss(model.init_params(0), np.zeros((2, 4)), np.array([0, 3]))


def test_mlp_counts_follow_the_shape():
    model = MLPClassifier((4, 10, 3))
    macs = 4 * 10 + 10 * 3
    c1, c5 = model.training_counts(1), model.training_counts(5)
    assert c5.fmul == pytest.approx(5 * c1.fmul)
    soft = transcendental("exp", 3) + transcendental("div", 3)
    # forward MACs + weight-gradient MACs + errors into the hidden layer (10 x 3) + softmax
    assert c1.fmul == pytest.approx(2 * macs + 10 * 3 + soft.fmul)
    assert c1.sram_words == pytest.approx(3 * macs + 10 * 3)


# ---------------------------------------------------------------- spiking counts

def _tiny_snn():
    from fsnn_theory.network import yin_yang_classifier
    return yin_yang_classifier(6)


def test_snn_counts_grow_with_events_and_causal_synapses():
    from fsnn_theory.network import synaptic_events
    from fsnn_theory.neurons import causal_set

    snn = _tiny_snn()
    rng = np.random.default_rng(0)
    X = rng.random((5, 4))
    w = snn.init_params(0)
    fwd = snn.forward(w, X)
    c = snn_training_counts(snn.network, fwd)
    events = float(synaptic_events(snn.network, fwd).sum())
    causal = float(sum(causal_set(a, b).sum() for a, b in zip(fwd.layer_inputs, fwd.spike_times)))
    # one weight read per event, one read + read-modify-write per causal synapse
    assert c.sram_words == pytest.approx(events + 3 * causal)
    # doubling the batch (same samples twice) doubles every count
    c2 = snn_training_counts(snn.network, snn.forward(w, np.vstack([X, X])))
    for f in ("fmul", "fadd", "compare", "sram_words"):
        assert getattr(c2, f) == pytest.approx(2 * getattr(c, f))


def test_memory_words_and_bytes():
    snn = _tiny_snn()
    stored, scratch = snn_memory_per_sample(snn.network)
    assert stored == (4 + 1) + (6 + 1) + 3 and scratch == 2 * 6
    words = training_memory_words(snn.n_params, stored, scratch, 8, error_feedback=True)
    assert words == 4 * snn.n_params + 8 * (stored + scratch)
    assert memory_bytes(words, "int8") * 4 == memory_bytes(words, "float32")
    with pytest.raises(ValueError, match="dtype"):
        memory_bytes(words, "float16")


def test_operation_counts_reject_negative():
    with pytest.raises(ValueError, match="OperationCounts.fadd"):
        OperationCounts(fadd=-1)


# ---------------------------------------------------------------- the counting wrapper

@pytest.mark.parametrize("which", ["snn", "ann"])
def test_counting_wrapper_is_bit_identical_and_counts_every_step(which):
    from fsnn_theory.data import yin_yang_dataset
    from fsnn_theory.federated import FederatedConfig, StepSchedule, make_partition, run_federated

    ds = yin_yang_dataset(train_size=60, validation_size=10, test_size=30)
    snn = _tiny_snn()
    model = snn if which == "snn" else MLPClassifier(snn.network.layer_sizes)
    part = make_partition("iid", ds.train.y, 3, 0)
    cfg = FederatedConfig(rounds=2, local_steps=2, batch_size=4, schedule=StepSchedule("constant", 0.5), seed=0)
    plain = run_federated(model, ds.train, ds.test, part, cfg)
    counting = CountingModel(model)
    counted = run_federated(counting, ds.train, ds.test, part, cfg)
    np.testing.assert_array_equal(plain.params, counted.params)
    assert len(counting.calls) == 2 * 3 * 2
    per_round = counting.per_round(2, 6)
    assert all(r.fmul > 0 for r in per_round)
    if which == "ann":
        one = model.training_counts(4).fmul + model.n_params  # + the SGD update
        assert per_round[0].fmul == pytest.approx(6 * one)
    with pytest.raises(ValueError, match="expected rounds"):
        counting.per_round(3, 6)


# ---------------------------------------------------------------- the CLI

def test_fsnn_energy_json(capsys):
    from fsnn_theory.cli import main

    rc = main(["energy", "--device", "mcu-ble", "--model", "ann", "--train-size", "60", "--test-size", "30",
               "--hidden", "6", "--clients", "3", "--rounds", "2", "--local-steps", "2", "--batch-size", "4", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["total_joules"] == pytest.approx(out["compute_joules"] + out["uplink_joules"] + out["downlink_joules"])
    # uncompressed float32 both ways: 32 d bits per client, round and direction
    assert out["uplink_bits"] == out["downlink_bits"] == 32 * out["n_params"] * 3 * 2
    assert main(["energy", "--device", "toaster", "--rounds", "1"]) == 2


# ---------------------------------------------------------------- the experiment's accounting

def _fake_run(acc, n_params=323):
    import pandas as pd

    rounds = np.arange(len(acc)) * 2
    k = rounds.astype(float)
    return pd.DataFrame({"round": rounds, "test_accuracy": acc, "cum_uplink_bits": 1000.0 * k,
                         "cum_downlink_bits": 1000.0 * k, "cum_transfers": 10.0 * k, "cum_fmul": 1e6 * k,
                         "cum_fadd": 1e6 * k, "cum_compare": 0.0 * k, "cum_sram_words": 1e6 * k,
                         "sample_fmul": 100.0, "sample_fadd": 100.0, "sample_compare": 0.0,
                         "sample_sram_words": 100.0, "n_params": n_params})


def test_runs_that_miss_the_target_are_kept_as_inf():
    from experiments import energy_to_accuracy as exp

    cfg = exp.config("quick")
    missed = exp._energy_rows(_fake_run([0.3, 0.5, 0.6]), "ann", "yin-yang", "iid", "none", 0, cfg)
    assert len(missed) == len(cfg["devices"]) and all(math.isinf(r["rounds"]) and math.isinf(r["total_joules"])
                                                       for r in missed)
    hit = exp._energy_rows(_fake_run([0.3, 0.85, 0.9]), "ann", "yin-yang", "iid", "none", 0, cfg)
    for r in hit:
        assert r["rounds"] == 2 and r["total_joules"] == pytest.approx(r["compute_joules"] + r["radio_joules"])
        prof = en.device_profile(r["device"])
        up, down = en.round_radio_joules(2000.0, 2000.0, 20.0, 20.0, prof)
        assert r["radio_joules"] == pytest.approx(up + down)
        assert 0 < r["compute_joules"] < math.inf


def test_paper_ratio_is_median_total_snn_over_ann():
    import pandas as pd

    from experiments import energy_to_accuracy as exp

    cfg = exp.config("quick")
    rows = []
    totals = {"snn": [3.0, 5.0, 100.0], "ann": [1.0, 2.0, math.inf]}  # medians 5 and 2; inf kept, not dropped
    for model, vals in totals.items():
        for seed, t in enumerate(vals):
            for device in cfg["devices"]:
                rows.append({"table": "energy", "model": model, "dataset": "yin-yang", "partition": "iid",
                             "device": device, "compressor": "none", "seed": seed, "rounds": 4.0 if math.isfinite(t) else math.inf,
                             "compute_joules": 0.1 * t, "radio_joules": 0.9 * t, "total_joules": t,
                             "crossover_measured_j_per_bit": 1e-10, "crossover_predicted_j_per_bit": 1e-10})
    nums = exp.numbers(pd.DataFrame(rows), cfg)
    assert nums["EtaRatioYinYangPhoneLte"][0] == pytest.approx(5.0 / 2.0)
    assert nums["EtaRadioShareYinYangMcuBleSNN"][0] == pytest.approx(90.0)
    assert nums["EtaOrdersVerdict"][0] == "does not hold"
    assert math.isnan(nums["EtaRatioDigitsMcuBle"][0])  # not run in quick mode
    assert set(nums) == set(exp.NUMBER_MACROS)
