"""Studies: set-ups (data set + model + partition + recipe), constant estimation on a model and
data, and the harnesses that hold published bounds against measured runs.

Layer: above `fsnn_theory.federated` and the formulas of `fsnn_theory.theory`, below the
experiments and the spine (see ``tests/test_layers.py``).
"""
