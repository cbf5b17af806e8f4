"""Resumable ``fsnn train`` / ``fsnn federate`` runs (issue 15, defect 6).

``DIR/run.json`` names the configuration of the run that owns ``--out DIR`` (the command and
its full spec, with a hash); ``DIR/checkpoint.pkl`` holds the state at the last finished round
or epoch (parameters, optimiser state, error-feedback residuals, control variates, bumping state,
history so far; the random draws are keyed by seed and round/epoch, so no generator state is
needed), rewritten atomically after each one and removed when the run completes. The same
command after an interruption resumes from it and ends byte-identical to an uninterrupted run.
Files of a run with another configuration (or of unknown configuration) in the same directory are
refused, unless ``--force`` replaces them.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from fsnn_theory.files import canonical_json, config_hash, write_bytes_atomic, write_json_atomic

__all__ = ["RUN_FILE", "CHECKPOINT_FILE", "RunDirectory"]

RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.pkl"


class RunDirectory:
    """The output directory of one resumable run: ``command`` with the JSON-serialisable
    ``spec``; ``outputs`` the files the run writes (checked for staleness)."""

    def __init__(self, out: Path, command: str, spec: dict, outputs: tuple[str, ...]):
        self.out = Path(out)
        self.record = json.loads(canonical_json({"command": command, "spec": spec}))
        self.hash = config_hash(self.record)
        self.outputs = outputs

    def _present(self) -> list[str]:
        return [f for f in (RUN_FILE, CHECKPOINT_FILE, *self.outputs) if (self.out / f).exists()]

    def claim(self, force: bool) -> dict | None:
        """Check the directory and mark it as this run's; the snapshot to resume from, or None.

        ValueError if it holds files of another (or an unknown) configuration and not ``force``;
        with ``force`` those files (and any checkpoint) are removed and the run starts afresh.
        """
        present = self._present()
        stored = None
        if (self.out / RUN_FILE).is_file():
            try:
                stored = json.loads((self.out / RUN_FILE).read_text(encoding="utf-8"))
            except ValueError:
                stored = None
        same = isinstance(stored, dict) and stored.get("hash") == self.hash
        # a run.json alone (a run refused before it computed anything) is not worth keeping
        if [f for f in present if f != RUN_FILE] and not same:
            if not force:
                raise ValueError(f"--out {self.out} holds files of an earlier run with {self._difference(stored)} "
                                 f"({', '.join(present)}): give another --out, or --force to replace them")
            for f in present:
                (self.out / f).unlink()
            present = []
        write_json_atomic({**self.record, "hash": self.hash}, self.out / RUN_FILE)
        path = self.out / CHECKPOINT_FILE
        if force:  # --force: start again, also over a checkpoint of this configuration
            path.unlink(missing_ok=True)
        if not path.is_file():
            return None
        try:
            saved = pickle.loads(path.read_bytes())
        except Exception as exc:  # a checkpoint we cannot read: say so, never resume from garbage
            raise ValueError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); "
                             "remove it (or use --force) to start again") from None
        if not isinstance(saved, dict) or saved.get("hash") != self.hash:
            raise ValueError(f"{path} belongs to another configuration; remove it (or use --force)")
        return saved["snapshot"]

    def _difference(self, stored) -> str:
        if not isinstance(stored, dict) or not isinstance(stored.get("spec"), dict):
            return "an unknown configuration"
        if stored.get("command") != self.record["command"]:
            return f"another command (fsnn {stored.get('command')})"
        old, new = stored["spec"], self.record["spec"]
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return "another configuration (" + ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys) + ")"

    def save(self, snapshot: dict) -> None:
        """Store ``snapshot`` atomically (a crash mid-write leaves the previous one)."""
        blob = pickle.dumps({"hash": self.hash, "snapshot": snapshot}, protocol=pickle.HIGHEST_PROTOCOL)
        write_bytes_atomic(blob, self.out / CHECKPOINT_FILE)

    def finish(self) -> None:
        """The run completed and its outputs are written: the checkpoint is no longer needed."""
        (self.out / CHECKPOINT_FILE).unlink(missing_ok=True)
