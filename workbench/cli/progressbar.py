"""A small stderr progress bar implementing the ProgressFn protocol (no Qt, no tqdm)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """``bar(done, total, phase)``; redraws at most 10 times a second, prints phase times."""

    def __init__(self, stream=None, enabled: bool | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width
        self._phase: str | None = None
        self._phase_start = time.monotonic()
        self._last_draw = 0.0
        self.phase_times: dict[str, float] = {}

    def __call__(self, done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if phase != self._phase:
            self._finish_phase(now)
            self._phase, self._phase_start = phase, now
            if not self.enabled:
                print(f"{phase} ...", file=self.stream, flush=True)
        if not self.enabled:
            return
        if now - self._last_draw < 0.1 and not (total and done >= total):
            return
        self._last_draw = now
        if total:
            frac = min(1.0, done / total)
            filled = int(frac * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"\r{phase[:40]:<40} [{bar}] {done}/{total}"
        else:
            text = f"\r{phase[:40]:<40} ..."
        self.stream.write(text)
        self.stream.flush()

    def _finish_phase(self, now: float) -> None:
        if self._phase is not None:
            self.phase_times[self._phase] = now - self._phase_start
            if self.enabled:
                self.stream.write("\n")
                self.stream.flush()

    def close(self) -> None:
        self._finish_phase(time.monotonic())
        self._phase = None
