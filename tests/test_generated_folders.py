"""`relieflink synth` and `relieflink demo` never delete or overwrite what they did not write (issue #8).

Their folders live as run folders do (relieflink.outputs): absent, empty, or the generator's own
output (recognized by its truth/truth.json and holding nothing else) are accepted, anything else is
refused before any work; the new folder is written beside and swapped in, so a failure or a kill
leaves the previous one. Oracles: byte snapshots of the folders, and a fresh generation into a new
folder (the generator is deterministic).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relieflink import outputs
from relieflink.cli import EXIT_INPUT, EXIT_OK, main
from relieflink.errors import OutputRefused
from relieflink.synth import generate_batch

PERSONS = 200


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Two generations (seeds 1 and 2) in fresh folders: what a replaced folder must hold, byte for byte."""
    root = tmp_path_factory.mktemp("generated")
    for seed in (1, 2):
        assert main(["synth", "--persons", str(PERSONS), "--seed", str(seed), "--out", str(root / f"s{seed}")]) == EXIT_OK
    refs = {seed: _snapshot(root / f"s{seed}") for seed in (1, 2)}
    assert refs[1] != refs[2] and "truth/flags.parquet" in refs[1]
    return root, refs


def _theirs(kind: str, folder: Path, generated_root: Path) -> None:
    """A folder holding someone's files: an agency's export in X/batch, notes beside, or a file
    added to a folder synth wrote."""
    if kind == "batch_of_exports":
        (folder / "batch").mkdir(parents=True)
        (folder / "batch" / "mzj_医疗救助.csv").write_text("姓名,身份证号\n", encoding="utf-8")
        (folder / "truth").mkdir()
        (folder / "truth" / "notes.md").write_text("mine", encoding="utf-8")
    elif kind == "notes":
        folder.mkdir(parents=True)
        (folder / "notes.txt").write_text("mine", encoding="utf-8")
    else:  # a generated folder with one more export dropped into its batch
        shutil.copytree(generated_root / "s1", folder)
        (folder / "batch" / "rsj_就业援助(2).csv").write_text("姓名\n", encoding="utf-8")


@pytest.mark.parametrize("kind", ["batch_of_exports", "notes", "added_to_generated"])
def test_synth_refuses_a_folder_it_did_not_write(generated, tmp_path, capsys, kind):
    root, _ = generated
    out = tmp_path / "x"
    _theirs(kind, out, root)
    before = _snapshot(out)
    capsys.readouterr()
    assert main(["synth", "--persons", str(PERSONS), "--out", str(out)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert str(out) in err and "Traceback" not in err and err.count("\n") == 1
    assert ("not a folder relieflink synth wrote" in err) == (kind != "added_to_generated")
    assert _snapshot(out) == before and _leftovers(out) == []


def test_synth_replaces_its_own_folder_whole(generated, tmp_path):
    """Seed 2 over seed 1, then month 2 over month 1 (a file renamed): each time exactly what a fresh
    generation writes, nothing of the previous one left."""
    root, refs = generated
    out = tmp_path / "x"
    shutil.copytree(root / "s1", out)
    assert main(["synth", "--persons", str(PERSONS), "--seed", "2", "--out", str(out)]) == EXIT_OK
    assert _snapshot(out) == refs[2] and _leftovers(out) == []
    generate_batch(out, persons=PERSONS, seed=2, month=2)
    generate_batch(tmp_path / "fresh", persons=PERSONS, seed=2, month=2)
    assert _snapshot(out) == _snapshot(tmp_path / "fresh")
    assert set(os.listdir(out / "batch")) != {p.split("/")[1] for p in refs[2] if p.startswith("batch/")}


def test_library_synth_refuses_too_and_a_failure_keeps_the_previous_folder(generated, tmp_path, monkeypatch):
    root, refs = generated
    theirs = tmp_path / "theirs"
    _theirs("batch_of_exports", theirs, root)
    with pytest.raises(OutputRefused, match="not a folder relieflink synth wrote"):
        generate_batch(theirs, persons=PERSONS, seed=1)
    out = tmp_path / "x"
    shutil.copytree(root / "s1", out)

    def broken(*args, **kwargs):
        raise RuntimeError("disk trouble")

    monkeypatch.setattr("relieflink.synth.generate.write_truth", broken)
    with pytest.raises(RuntimeError):
        generate_batch(out, persons=PERSONS, seed=2)
    assert _snapshot(out) == refs[1] and _leftovers(out) == []


def test_synth_killed_between_the_renames_is_restored_by_the_next_synth(generated, tmp_path):
    """The worst moment (the rename-based swap, the previous folder moved away, the new one not yet
    in place); the other kill points are those of a run (test_outputs)."""
    root, refs = generated
    point = "between-renames"
    out = tmp_path / "x"
    shutil.copytree(root / "s1", out)
    env = dict(os.environ, **{outputs.KILL_AT: point})
    done = subprocess.run([sys.executable, "-m", "relieflink", "synth", "--persons", str(PERSONS), "--seed", "2",
                           "--out", str(out)], env=env, capture_output=True)
    assert done.returncode == -9
    assert not out.exists() and _leftovers(out)  # the staging folder and the moved-away folder
    assert main(["synth", "--persons", str(PERSONS), "--seed", "2", "--out", str(out)]) == EXIT_OK
    assert _snapshot(out) == refs[2] and _leftovers(out) == []


def test_demo_refuses_folders_it_did_not_write_before_any_work(generated, tmp_path, capsys):
    root, _ = generated
    demo = tmp_path / "demo"
    _theirs("batch_of_exports", demo / "generated", root)
    before = _snapshot(demo)
    assert main(["demo", "--persons", str(PERSONS), "--dir", str(demo)]) == EXIT_INPUT
    assert "not a folder relieflink synth wrote" in capsys.readouterr().err
    assert _snapshot(demo) == before
    shutil.rmtree(demo)
    (demo / "out").mkdir(parents=True)
    (demo / "out" / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["demo", "--persons", str(PERSONS), "--dir", str(demo)]) == EXIT_INPUT
    assert "not a relieflink run folder" in capsys.readouterr().err
    assert sorted(os.listdir(demo)) == ["out"] and _snapshot(demo) == {"out/notes.txt": b"mine"}


def _schemas_of_year(folder: Path, year: int) -> Path:
    """The packaged configuration with the generator's calendar moved to ``year``."""
    from relieflink.config import schemas_dir

    shutil.copytree(schemas_dir(), folder)
    synth = folder / "synth.yaml"
    text = synth.read_text(encoding="utf-8")
    for old, new in (("year: 2015 ", f"year: {year} "),
                     ("school_year: [2015-09-01, 2016-08-31]", f"school_year: [{year}-09-01, {year + 1}-08-31]"),
                     ("reference_date: 2015-12-31", f"reference_date: {year}-12-31"),
                     ("export_timestamp: 2016-01-15", f"export_timestamp: {year + 1}-01-15"),
                     ("export_date: 2016-01-15", f"export_date: {year + 1}-01-15")):
        assert old in text, old
        text = text.replace(old, new)
    synth.write_text(text, encoding="utf-8")
    return folder


def test_demo_reruns_and_its_screening_hint_is_in_the_audited_year(tmp_path, monkeypatch, capsys):
    """A batch of 2017: the hint screens an application of 2017 (the run's audit period), and
    running the demo again into the same folder works and writes the same bytes."""
    monkeypatch.setenv("RELIEFLINK_SCHEMAS", str(_schemas_of_year(tmp_path / "schemas", 2017)))
    demo = tmp_path / "demo"
    assert main(["demo", "--persons", str(PERSONS), "--dir", str(demo)]) == EXIT_OK
    first = capsys.readouterr().out
    assert "audit period 2017" in first
    hint = [line for line in first.splitlines() if "relieflink screen" in line]
    assert len(hint) == 1 and "--start 2017-" in hint[0], hint
    before = _snapshot(demo)
    assert main(["demo", "--persons", str(PERSONS), "--dir", str(demo)]) == EXIT_OK
    assert _snapshot(demo) == before and sorted(os.listdir(demo)) == ["generated", "out"]
