"""Verification of published bounds in the regime where they say something (issue 11).

Modules: :mod:`.table` (checkpoints, seed means and intervals, slopes, the row record),
:mod:`.curves` (the long table every case returns; rows derived from it), :mod:`.problems` (the
convex problem and its certified constants), :mod:`.simulate` (FedAvg exactly as analysed,
vectorised over seeds), :mod:`.cases` (one function per theorem, each with its negative control),
:mod:`.run` (quick / full configuration and the loop).
"""

from fsnn_theory.studies.verification.curves import CURVE_COLUMNS, rows_from_curves
from fsnn_theory.studies.verification.run import (CASE_GROUPS, MODES, case_list, run_case, run_verification,
                                                  verification_config)
from fsnn_theory.studies.verification.table import ROW_FIELDS, VerificationRow, rows_frame

__all__ = ["CURVE_COLUMNS", "rows_from_curves", "CASE_GROUPS", "MODES", "case_list", "run_case",
           "run_verification", "verification_config", "ROW_FIELDS", "VerificationRow", "rows_frame"]
