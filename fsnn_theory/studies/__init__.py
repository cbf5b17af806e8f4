"""Studies: set-ups (data set + model + partition + recipe), constant estimation on a model and
data, and the harnesses that hold published bounds against measured runs: `verification` (the
informative-regime protocol of ``fsnn verify``: fixed checkpoints, seed means with intervals,
negative controls, certified constants) and `verify` (the older per-round cases still used by
``rounds_vs_local_steps``, ``verify_nonconvex`` and ``verify_compression``).

Layer: above `fsnn_theory.federated` and the formulas of `fsnn_theory.theory`, below the
experiments and the spine (see ``tests/test_layers.py``).
"""
