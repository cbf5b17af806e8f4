"""fsnn_theory.files: the atomic writers create files with the mode a plain ``open()`` would.

Issue 15, defect 9: every output file came out 0600 whatever the umask (``tempfile.mkstemp``).
The expected mode is not a pasted constant: it is what ``open(path, "wb")`` gives under the same
umask in the same directory, so a default ACL or an odd umask is compared like for like.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from fsnn_theory.files import (
    save_figure_atomic,
    write_bytes_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_text_atomic,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)  # reading the umask means setting it; restored below

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(old)


WRITERS = {
    "bytes": lambda p: write_bytes_atomic(b"x", p),
    "text": lambda p: write_text_atomic("x", p),
    "json": lambda p: write_json_atomic({"a": 1}, p),
    "csv": lambda p: write_csv_atomic(pd.DataFrame({"a": [1.5]}), p),
}


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_new_files_get_the_mode_open_would_give(tmp_path, umask, mask, writer):
    umask(mask)
    reference = tmp_path / "reference"
    with open(reference, "wb"):
        pass
    target = WRITERS[writer](tmp_path / f"out.{writer}")
    assert _mode(target) == _mode(reference), oct(_mode(target))
    # Independent of the reference file too: 0666 with the umask bits cleared.
    assert _mode(target) & ~(0o666 & ~mask) == 0
    if mask == 0o022:
        assert _mode(target) & stat.S_IRGRP  # the group can read shared results (was 0600)


def test_figures_get_the_mode_open_would_give(tmp_path, umask):
    umask(0o022)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    try:
        paths = save_figure_atomic(fig, tmp_path / "fig")
    finally:
        plt.close(fig)
    with open(tmp_path / "reference", "wb"):
        pass
    assert [_mode(p) for p in paths] == [_mode(tmp_path / "reference")] * 2


def test_rewriting_keeps_the_existing_mode_like_open(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "shared.json"
    write_json_atomic({"a": 1}, target)
    os.chmod(target, 0o640)
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    os.chmod(reference, 0o640)
    with open(reference, "wb") as fh:  # what open() does to an existing file's mode
        fh.write(b"y")
    write_json_atomic({"a": 2}, target)
    assert _mode(target) == _mode(reference) == 0o640
    assert target.read_text() == '{\n  "a": 2\n}\n'


def test_no_temp_file_is_left_and_names_stay_hidden(tmp_path, umask):
    umask(0o022)
    write_bytes_atomic(b"abc", tmp_path / "a.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
