"""Formulas: published bounds, spike-time regularity constants and symbolic derivations (pure math; no runs)."""
