"""The command line: help for every command, exit codes that mean something."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from relieflink.cli import EXIT_ATTENTION, EXIT_CONFIG, EXIT_INPUT, EXIT_OK, build_parser, main, needs_operator
from relieflink.config import schemas_dir
from relieflink.ingest.pipeline import FileReport

from conftest import FIXTURES

SAMPLES = FIXTURES / "samples" / "exports"


@pytest.mark.parametrize("command", ["demo", "synth", "ingest", "run", "review", "decide", "evaluate"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: relieflink " + command in capsys.readouterr().out


def test_missing_batch_folder_is_an_input_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == EXIT_INPUT
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_broken_configuration_is_a_config_error(tmp_path, monkeypatch, capsys):
    schemas = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), schemas)
    (schemas / "programs.yaml").write_text("agencies: [\n", encoding="utf-8")
    monkeypatch.setenv("RELIEFLINK_SCHEMAS", str(schemas))
    batch = tmp_path / "batch"
    batch.mkdir()
    assert main(["run", str(batch), "--out", str(tmp_path / "out")]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "programs.yaml" in err and "not valid YAML" in err


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run"])
    assert exit_.value.code == 2


def test_run_then_review_lists_items(tmp_path, capsys):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "small-default" / "batch"
    out = tmp_path / "out"
    assert main(["run", str(fixtures), "--out", str(out)]) == EXIT_OK
    assert main(["review", str(out), "--limit", "3"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "open items" in printed and "report.html" in printed


def test_run_refuses_a_missing_or_short_pseudonym_key(tmp_path, capsys):
    batch = tmp_path / "batch"
    batch.mkdir()
    short = tmp_path / "key"
    short.write_bytes(b"too short")
    for key in (tmp_path / "no-such-key", short):
        assert main(["run", str(batch), "--out", str(tmp_path / "out"), "--pseudonym-key", str(key)]) == EXIT_INPUT
        err = capsys.readouterr().err
        assert str(key) in err and "secret key" in err and "too short" not in err  # the key is never printed
    assert not (tmp_path / "out").exists()


EXIT_CODE_LINES = ("0    finished", "1    finished, but something needs the operator", "2    usage error",
                   "3    configuration error", "4    refused", "5    internal error")


@pytest.mark.parametrize("command", [None, "run", "ingest", "screen", "evaluate"])
def test_help_documents_the_exit_codes(command, capsys):
    with pytest.raises(SystemExit):
        main(([command] if command else []) + ["--help"])
    printed = capsys.readouterr().out
    assert all(line in printed for line in EXIT_CODE_LINES), printed


def test_a_rejected_file_finishes_with_exit_1_and_names_the_file(tmp_path, capsys):
    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.copy(SAMPLES / "rsj_就业援助.csv", batch)
    (batch / "jsj_计生特扶.xlsx").write_bytes(b"\x00garbage, not a workbook" * 50)
    assert main(["ingest", str(batch), "--out", str(tmp_path / "out")]) == EXIT_ATTENTION
    out = capsys.readouterr().out
    assert "needs the operator" in out and "jsj_计生特扶.xlsx: rejected: not an Excel workbook" in out
    assert (tmp_path / "out" / "records.parquet").exists()  # finished: the rest of the batch is there


def _report(file: str, status: str, message: str | None = None) -> FileReport:
    return FileReport(file=file, sha256="", size=0, source=None, table=None, status=status, message=message)


def test_what_needs_the_operator():
    assert needs_operator([_report("rsj_就业援助.csv", "ingested"), _report("notes.txt", "unknown")], 24) == []
    assert "holds no file" in needs_operator([], 0)[0]
    assert "no recognized export (notes.txt)" in needs_operator([_report("notes.txt", "unknown")], 0)[0]
    assert "no record was read" in needs_operator([_report("rsj_就业援助.csv", "ingested")], 0)[0]
    rejected = needs_operator([_report("a.xlsx", "rejected", "broken"), _report("b.csv", "ingested")], 3)
    assert rejected == ["a.xlsx: rejected: broken"]


def test_evaluate_refuses_what_is_not_a_truth_or_run_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["ingest", str(SAMPLES), "--out", str(out)]) == EXIT_OK
    capsys.readouterr()
    assert main(["evaluate", str(out), "--truth", str(SAMPLES)]) == EXIT_INPUT  # the batch, not its truth
    err = capsys.readouterr().err
    assert f"{SAMPLES} is not a truth folder" in err and "relieflink synth" in err and "Traceback" not in err
    assert main(["evaluate", str(out), "--truth", str(FIXTURES / "small-default")]) == EXIT_INPUT
    assert f"did you mean {FIXTURES / 'small-default' / 'truth'}" in capsys.readouterr().err
    assert main(["evaluate", str(SAMPLES), "--truth", str(FIXTURES / "small-default" / "truth")]) == EXIT_INPUT
    assert f"{SAMPLES} is not a run folder" in capsys.readouterr().err


def test_progress_is_quiet_with_quiet_and_plain_in_a_pipe(tmp_path, capsys):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "small-default" / "batch"
    assert main(["run", str(fixtures), "--out", str(tmp_path / "a"), "--quiet"]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.err == "" and "seconds: ingest" in captured.out and "writing" in captured.out
    assert main(["run", str(fixtures), "--out", str(tmp_path / "b")]) == EXIT_OK
    captured = capsys.readouterr()  # not a terminal: the per-file log, no escape codes
    assert "\x1b" not in captured.err and "ingested" in captured.err


def test_progress_on_a_terminal_shows_every_stage_with_counts():
    import io

    from relieflink.console import Progress
    from relieflink.progress import StageEvent

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with Progress(stream=screen) as progress:
        for stage, counts in (("linkage", {"persons": 1813}), ("writing", {"files": 30})):
            progress.stage(StageEvent(stage, "start"))
            progress.stage(StageEvent(stage, "done", 1.5, counts))
    shown = screen.getvalue()
    assert "linkage" in shown and "1,813 persons" in shown and "writing" in shown and "30 files" in shown
