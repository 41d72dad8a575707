"""The command line: help for every command, exit codes that mean something."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from relieflink.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_OK, build_parser, main
from relieflink.config import schemas_dir


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
