"""What the CLI shows while a job runs: rich spinners with counts and elapsed time on a terminal.

The library reports its stages as :class:`~relieflink.progress.StageEvent` and each
ingested file as a :class:`~relieflink.ingest.pipeline.FileReport`; :class:`Progress`
draws them on stderr. On a terminal every stage is a line with a spinner, its counts
and the time elapsed, kept once done (``✓ linkage  1,813 persons …  14.9 s``). Not on a
terminal (a pipe, a log file) nothing is drawn and no escape code is written: the
per-file ingest lines stay, as a log. With ``quiet`` nothing at all is written.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from relieflink.progress import StageEvent

if TYPE_CHECKING:
    from relieflink.ingest.pipeline import FileReport

#: how a stage is named on screen, and what it counts while it runs
STAGE_LABELS = {"ingest": "ingest", "linkage": "linkage", "continuity": "continuity", "audit": "audit",
                "writing": "writing", "population": "population", "histories": "histories",
                "exports": "exports", "write": "writing files", "truth": "truth"}


def file_line(report: FileReport) -> str:
    """One ingested file, as the ingest log shows it."""
    status = report.status if report.status != "duplicate" else f"duplicate of {report.duplicate_of}"
    return (f"  {report.file:<34} {status:<12} rows {report.data_rows:>8}  records {report.records:>8}"
            f"  quarantined {report.rows_quarantined:>6}  {report.seconds:>6.2f}s")


def _counts(counts: dict[str, int]) -> str:
    return "  ".join(f"{n:,} {what}" for what, n in counts.items())


class Progress:
    """A job's progress on ``stream`` (stderr), live on a terminal (see the module)."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self._bar = None
        self._tasks: dict[str, int] = {}
        self._files = 0

    def __enter__(self) -> Progress:
        if self.live:
            from rich.console import Console
            from rich.progress import Progress as Bar, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Bar(SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description:<14}"),
                            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                            console=Console(file=self.stream), transient=False)
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def say(self, text: str) -> None:
        """A line of the log (not drawn when quiet)."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream)

    def file(self, report: FileReport) -> None:
        """An ingested file: its log line, and the ingest stage's count."""
        self._files += 1
        self.say(file_line(report))
        if self._bar is not None and "ingest" in self._tasks:
            self._bar.update(self._tasks["ingest"], counts=f"{self._files} files")

    def stage(self, event: StageEvent) -> None:
        """A stage began or ended (:mod:`relieflink.progress`)."""
        if self._bar is None:
            return
        label = STAGE_LABELS.get(event.name, event.name)
        if event.state == "start":
            self._tasks[event.name] = self._bar.add_task(label, total=None, counts=_counts(event.counts))
        elif event.name in self._tasks:
            task = self._tasks[event.name]
            self._bar.update(task, total=1, completed=1, counts=_counts(event.counts))
            self._bar.stop_task(task)
