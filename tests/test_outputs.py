"""The run folder never destroys data: refusals before any work, a lock, a swap that survives SIGKILL.

Oracles: a snapshot of the previous output's bytes (it must survive any
failure intact) and a reference run of the same batch into a fresh folder
(runs are deterministic, so a finished swap must give exactly its bytes).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import relieflink
from relieflink import outputs
from relieflink.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_OK, main
from relieflink.errors import InputRefused, OutputRefused
from relieflink.outputs import preflight

from conftest import FIXTURES

SAMPLES = FIXTURES / "samples" / "exports"
A_FILES = ("rsj_就业援助.csv", "mzj_医疗救助.csv", "jd-banshan_临时救助.csv")


def _batch(folder: Path, names: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(SAMPLES / name, folder / name)
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(out: Path) -> list[str]:
    """Everything in OUT's parent besides OUT and the test's own folders."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """Batch A, batch B (A less one file: another output), and the reference ingest outputs of both."""
    root = tmp_path_factory.mktemp("batches")
    a = _batch(root / "a", A_FILES)
    b = _batch(root / "b", A_FILES[:2])
    refs = {}
    for name, batch in (("a", a), ("b", b)):
        assert main(["ingest", str(batch), "--out", str(root / f"ref-{name}")]) == EXIT_OK
        refs[name] = _snapshot(root / f"ref-{name}")
    assert refs["a"] != refs["b"]
    return a, b, refs


@pytest.fixture
def previous(batches, tmp_path):
    """OUT holding the output of batch A."""
    a, _, refs = batches
    out = tmp_path / "work" / "out"
    assert main(["ingest", str(a), "--out", str(out)]) == EXIT_OK
    assert _snapshot(out) == refs["a"]
    return out


# ---- refusals before any work -------------------------------------------------------------------

def test_out_may_not_be_inside_or_around_the_batch(tmp_path, capsys):
    work = tmp_path / "work"
    batch = _batch(work / "batch", A_FILES)
    before = _snapshot(work)
    for out in (batch, batch / "out", work, tmp_path):
        assert main(["run", str(batch), "--out", str(out)]) == EXIT_INPUT
        err = capsys.readouterr().err
        assert "the output folder" in err and "batch folder" in err and "Traceback" not in err
        assert err.count("\n") == 1  # one sentence
    assert _snapshot(work) == before and sorted(p.name for p in work.iterdir()) == ["batch"]


def test_out_holding_someone_elses_files_is_refused(batches, tmp_path, capsys):
    a, _, _ = batches
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["ingest", str(a), "--out", str(out)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "is not a relieflink run folder" in err and "notes.txt" in err
    assert "reading" not in err  # refused before the batch was read
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine" and _leftovers(out) == []


def test_a_file_added_to_a_run_folder_is_not_wiped(previous, batches, capsys):
    a, _, _ = batches
    (previous / "my-notes.txt").write_text("mine", encoding="utf-8")
    before = _snapshot(previous)
    assert main(["ingest", str(a), "--out", str(previous)]) == EXIT_INPUT
    assert "holds files relieflink did not write" in capsys.readouterr().err
    assert _snapshot(previous) == before and _leftovers(previous) == []


def test_out_that_is_a_file_is_refused_and_kept(batches, tmp_path, capsys):
    a, _, _ = batches
    out = tmp_path / "report.txt"
    out.write_text("keep me", encoding="utf-8")
    assert main(["run", str(a), "--out", str(out)]) == EXIT_INPUT
    assert "is a file, not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]
    assert out.read_text(encoding="utf-8") == "keep me"


def test_empty_out_and_previous_run_are_accepted(batches, previous, tmp_path):
    a, b, refs = batches
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ingest", str(b), "--out", str(empty)]) == EXIT_OK
    assert _snapshot(empty) == refs["b"]
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_OK  # a run folder relieflink wrote
    assert _snapshot(previous) == refs["b"] and _leftovers(previous) == []


def test_library_callers_get_the_same_refusals(batches, tmp_path):
    from relieflink.pipeline import run_batch

    a, _, _ = batches
    with pytest.raises(OutputRefused, match="is the batch folder"):
        run_batch(a, a, stages=("ingest",))
    with pytest.raises(InputRefused, match="is not a folder"):
        run_batch(tmp_path / "nope", tmp_path / "out", stages=("ingest",))
    assert not (tmp_path / "out").exists()


def test_a_second_run_into_a_locked_out_is_refused(batches, previous, capsys):
    a, b, refs = batches
    held = preflight(previous, a)  # a run in progress (flock is per open file: a second open conflicts)
    try:
        assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_INPUT
        err = capsys.readouterr().err
        assert f"another relieflink run (process {os.getpid()}) is writing" in err
        assert _snapshot(previous) == refs["a"]
    finally:
        held.abandon()
    assert _leftovers(previous) == []
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_OK


def test_too_little_free_space_is_refused_before_reading(batches, previous, monkeypatch, capsys):
    a, b, refs = batches
    monkeypatch.setattr(outputs, "_free_bytes", lambda path: 10 * 2**20)
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "only 10 MB free on the device holding" in err and "about 64 MB needed; free 54 MB" in err
    assert "reading" not in err
    assert _snapshot(previous) == refs["a"] and _leftovers(previous) == []


def test_disk_full_while_writing_is_a_sentence_and_keeps_the_previous_out(batches, previous, monkeypatch, capsys):
    import relieflink.pipeline

    a, b, refs = batches
    real = relieflink.pipeline.write_parquet
    calls = []

    def full_disk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first file is written, the second finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(relieflink.pipeline, "write_parquet", full_disk)
    tempdir = tempfile.tempdir
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_INPUT
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the progress lines, one sentence
    assert last.startswith("error: no space left on the device holding") and "Traceback" not in err
    assert last.endswith("free 64 MB or choose another output folder")
    assert _snapshot(previous) == refs["a"] and _leftovers(previous) == []
    assert tempfile.tempdir == tempdir  # temporary files no longer sent to the staging folder


def test_permission_lost_while_writing_is_a_sentence(batches, previous, monkeypatch, capsys):
    import relieflink.pipeline

    a, b, refs = batches

    def denied(table, name, path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(relieflink.pipeline, "write_parquet", denied)
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_INPUT
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot write beside {previous} (Permission denied)")
    assert _snapshot(previous) == refs["a"] and _leftovers(previous) == []


def test_ctrl_c_leaves_out_as_it_was(batches, previous, monkeypatch, capsys):
    import relieflink.pipeline

    a, b, refs = batches

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(relieflink.pipeline.Run, "linkage_stage", interrupted)
    assert main(["run", str(b), "--out", str(previous)]) == 130
    assert "interrupted; the output folder was left as it was" in capsys.readouterr().err
    assert _snapshot(previous) == refs["a"] and _leftovers(previous) == []


def test_internal_error_leaves_out_as_it_was(batches, previous, monkeypatch, capsys):
    import relieflink.pipeline

    a, b, refs = batches

    def broken(self, progress=None):
        raise KeyError("张三 330105199001011234")  # an exception text may hold personal data

    monkeypatch.setattr(relieflink.pipeline.Run, "ingest_stage", broken)
    assert main(["ingest", str(b), "--out", str(previous)]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("internal error: KeyError in ") and "--debug" in err[-1]
    assert not any("张三" in line or "330105199001011234" in line for line in err)
    assert _snapshot(previous) == refs["a"] and _leftovers(previous) == []
    with pytest.raises(KeyError):
        main(["--debug", "ingest", str(b), "--out", str(previous)])
    with pytest.raises(KeyError):
        main(["ingest", str(b), "--out", str(previous), "--debug"])
    assert _leftovers(previous) == []


@pytest.mark.parametrize("bad", ["rules", "decisions", "previous"])
def test_refused_rules_decisions_or_previous_leave_out_and_nothing_beside_it(batches, previous, tmp_path, monkeypatch,
                                                                             capsys, bad):
    """The CLI prepares OUT (lock, staging folder) before the rules, the decisions file and
    --previous are read: when one of them is refused, OUT stays as it was and nothing of the
    preparation is left beside it."""
    from relieflink.config import schemas_dir

    a, b, refs = batches
    argv = ["run", str(b), "--out", str(previous)]
    if bad == "rules":
        schemas = tmp_path / "schemas"
        shutil.copytree(schemas_dir(), schemas)
        rules = schemas / "rules.yaml"
        rules.write_text(rules.read_text(encoding="utf-8").replace("kind: frequency", "kind: frequencies", 1),
                         encoding="utf-8")
        monkeypatch.setenv("RELIEFLINK_SCHEMAS", str(schemas))
    elif bad == "decisions":
        (tmp_path / "d.jsonl").write_text("not a decision\n", encoding="utf-8")
        argv += ["--decisions", str(tmp_path / "d.jsonl")]
    else:
        argv += ["--previous", str(tmp_path / "not-a-run")]
    assert main(argv) == (EXIT_INPUT if bad == "previous" else EXIT_CONFIG)
    assert "Traceback" not in capsys.readouterr().err
    assert _snapshot(previous) == refs["a"] and _leftovers(previous) == []


# ---- SIGKILL at every point of the write and the swap -------------------------------------------

def _killed_run(args: list[str], env: dict[str, str] | None = None, code: str | None = None) -> None:
    """Run the CLI in a child process that gets SIGKILLed on the way (a kill point or patched code)."""
    script = (code or "") + "\nfrom relieflink.cli import main\nmain(" + repr(args) + ")\n"
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, **(env or {})},
                          capture_output=True, timeout=300)
    assert done.returncode == -9, done.stderr.decode("utf-8", "replace")[-2000:]


@pytest.mark.parametrize("point", ["prepared", "staged", "between-renames", "swapped"])
def test_sigkill_at_each_point_keeps_or_restores_the_previous_out(batches, previous, point):
    a, b, refs = batches
    _killed_run(["ingest", str(b), "--out", str(previous)], env={outputs.KILL_AT: point})
    if point in ("prepared", "staged"):
        assert _snapshot(previous) == refs["a"]  # untouched
    elif point == "between-renames":
        assert not previous.exists()  # the moment between the two renames: the next run restores it
        assert _snapshot(previous.parent / f".{previous.name}.relieflink-previous") == refs["a"]
    else:
        assert _snapshot(previous) == refs["b"]  # the new output, complete, in place
    # the next run first repairs: a preflight abandoned at once leaves a complete OUT and nothing else
    preflight(previous, b).abandon()
    assert _snapshot(previous) == (refs["b"] if point == "swapped" else refs["a"])
    assert _leftovers(previous) == []
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_OK
    assert _snapshot(previous) == refs["b"] and _leftovers(previous) == []


def test_sigkill_while_writing_the_workbook_leaves_no_temporary_file(batches, previous, tmp_path):
    """XlsxWriter's constant-memory sheets are temporary files: they are made in the staging
    folder, so a kill during the workbook (here: when it is closed, every sheet written) leaves
    none in the system's temp folder."""
    a, b, refs = batches
    private_tmp = tmp_path / "system-tmp"
    private_tmp.mkdir()
    kill = ("import os, signal, tempfile, xlsxwriter\n"
            "def close(self):\n"
            "    assert tempfile.gettempdir().endswith('tmp') and '.relieflink-staging-' in tempfile.gettempdir()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "xlsxwriter.Workbook.close = close\n")
    _killed_run(["run", str(b), "--out", str(previous)], env={"TMPDIR": str(private_tmp)}, code=kill)
    assert _snapshot(previous) == refs["a"]
    assert list(private_tmp.iterdir()) == []
    staging = [p for p in previous.parent.iterdir() if ".relieflink-staging-" in p.name]
    assert len(staging) == 1 and (staging[0] / "tmp").is_dir()
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_OK
    assert _snapshot(previous) == refs["b"] and _leftovers(previous) == []


def test_rename_based_swap_where_no_atomic_exchange(batches, previous, monkeypatch):
    a, b, refs = batches
    monkeypatch.setattr(outputs, "_exchange", lambda x, y: False)
    assert main(["ingest", str(b), "--out", str(previous)]) == EXIT_OK
    assert _snapshot(previous) == refs["b"] and _leftovers(previous) == []


# ---- permissions, as an unprivileged user --------------------------------------------------------

def _as_nobody(args: list[str], shared: Path) -> subprocess.CompletedProcess:
    """Run the CLI as the user nobody. The checkout may sit in a folder only root can read (CI
    clones into a private temporary folder), so the package is copied into the shared folder and
    put first on the path; the interpreter and its site-packages must be readable by anyone."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to run as an unprivileged user")
    if os.geteuid() != 0:
        prefix: list[str] = []  # already unprivileged
    else:
        prefix = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        if subprocess.run(prefix + ["true"], capture_output=True).returncode != 0:
            pytest.skip("cannot switch to the user nobody")
    code = shared / "code"
    if not code.exists():
        shutil.copytree(Path(relieflink.__file__).parent, code / "relieflink",
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "HOME": "/tmp", "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = subprocess.run(prefix + [sys.executable, "-c", "import pandas, relieflink"], capture_output=True, env=env)
    if probe.returncode != 0:
        pytest.skip("the user nobody cannot import this interpreter's packages: "
                    + probe.stderr.decode("utf-8", "replace").strip().splitlines()[-1])
    return subprocess.run(prefix + [sys.executable, "-m", "relieflink", *args], capture_output=True, timeout=300,
                          env=env)


@pytest.fixture
def shared_tmp():
    """A temporary folder the unprivileged user can traverse (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="relieflink-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_read_only_parent_is_refused_before_reading(shared_tmp):
    batch = _batch(shared_tmp / "batch", A_FILES)
    parent = shared_tmp / "readonly"
    parent.mkdir()
    parent.chmod(0o555)
    done = _as_nobody(["run", str(batch), "--out", str(parent / "out")], shared_tmp)
    err = done.stderr.decode("utf-8")
    assert done.returncode == EXIT_INPUT, err
    assert f"cannot write in {parent}" in err and "Permission denied" in err and "reading" not in err
    assert "Traceback" not in err and list(parent.iterdir()) == []


def test_out_the_user_may_not_replace_is_refused_before_reading(batches, shared_tmp):
    a, _, refs = batches
    batch = _batch(shared_tmp / "batch", A_FILES)
    parent = shared_tmp / "shared"
    parent.mkdir()
    out = parent / "out"
    assert main(["ingest", str(batch), "--out", str(out)]) == EXIT_OK  # root's run folder
    parent.chmod(0o777)  # the parent is writable by all, OUT only by root
    done = _as_nobody(["ingest", str(batch), "--out", str(out)], shared_tmp)
    err = done.stderr.decode("utf-8")
    assert done.returncode == EXIT_INPUT, err
    assert f"cannot replace the output folder {out}" in err and "reading" not in err
    assert _snapshot(out) == refs["a"] and _leftovers(out) == []
