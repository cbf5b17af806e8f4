"""``python -m fsnn_theory.cli``: the ``fsnn`` command without installing it."""

import sys

from fsnn_theory.cli import main

sys.exit(main())
