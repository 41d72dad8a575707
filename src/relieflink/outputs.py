"""The run folder's life: refused before any work, written aside, swapped into place, recovered after a kill.

A run never destroys data (SPEC §7):

* :func:`preflight` runs before the job reads its batch, so a refused output
  folder costs nothing. OUT must be absent, an empty folder, or a folder of
  the kind the job writes (:class:`FolderKind`), holding nothing its writer
  did not put there: a run folder (:data:`RUN_FOLDER`: its ``run.json``
  carries the manifest's keys and lists every entry), or a generated batch
  (``relieflink synth``: :data:`relieflink.synth.truth.GENERATED_FOLDER`).
  OUT may not be, contain or sit inside the batch folder. Anything else raises
  :class:`~relieflink.errors.OutputRefused`.
  Preflight then takes the lock (a second run into OUT is refused), repairs
  what a killed run left, creates the staging folder — the real test that
  OUT's parent is writable, since ``os.access`` answers yes to root on a
  read-only mount — and checks the free space.
* The job writes into the staging folder; Python's temporary files go there
  too (openpyxl's write-only sheets are temporary files).
* :meth:`StagedOutput.commit` swaps the staging folder into OUT's place: in
  one atomic exchange where Linux offers it (``renameat2(RENAME_EXCHANGE)``),
  else by two renames. Only then is the previous OUT removed.

Beside OUT, in its parent folder, and only while a run lasts (``OUT`` stands
for the output folder's name):

=================================  ==============================================
``.OUT.relieflink-lock``           the lock (``fcntl.flock``), removed at the end
``.OUT.relieflink-staging-*/``     one run's staging: ``run/`` becomes OUT,
                                   ``tmp/`` holds its temporary files
``.OUT.relieflink-previous/``      the previous OUT between the two renames of
                                   the rename-based swap
=================================  ==============================================

A kill at any moment leaves at OUT's path either the previous or the new
output, complete — except between the two renames of the rename-based swap,
when OUT is missing and its previous content waits at
``.OUT.relieflink-previous``: the next run into OUT restores it before
anything else. The next run also removes every leftover; it touches only
names of the forms above.

Test hook: ``RELIEFLINK_TEST_KILL_AT=<point>`` makes the process SIGKILL
itself at a named point (``prepared``, ``staged``, ``between-renames``,
``swapped``); asking for ``between-renames`` selects the rename-based swap,
the only one that has that point. Nothing else reads the variable.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import json
import logging
import math
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from relieflink.errors import InputRefused, OutputRefused

log = logging.getLogger(__name__)

MANIFEST = "run.json"
#: the keys every run manifest carries (see ``Run._manifest``): how a run folder is recognized
MANIFEST_KEYS = ("relieflink_version", "inputs", "outputs", "config_sha256", "counts")
#: space to find free before a run: outputs measured 4.5x the batch's size at 20k persons, plus the
#: workbook's uncompressed temporary sheets; 10x (at least 64 MiB) leaves a generous margin
SPACE_FACTOR = 10
SPACE_FLOOR = 64 * 2**20
KILL_AT = "RELIEFLINK_TEST_KILL_AT"

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS)


def _kill_point(point: str) -> None:
    """The test hook: die here, as a power cut or ``kill -9`` would, when asked to."""
    if os.environ.get(KILL_AT) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a run folder relieflink wrote, or None when ``folder`` is not one."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or any(k not in manifest for k in MANIFEST_KEYS):
        return None
    if not isinstance(manifest["outputs"], list) or not all(isinstance(x, str) for x in manifest["outputs"]):
        return None
    return manifest


def is_run_folder(folder: Path) -> bool:
    """True when ``folder`` was written by a relieflink run (it has a run manifest)."""
    return read_manifest(folder) is not None


@dataclass(frozen=True)
class FolderKind:
    """A kind of folder that a relieflink command writes whole and replaces whole.

    ``contents`` recognizes a folder of the kind and says what its writer put in it: the
    paths relative to the folder, ``/``-separated (a folder listed stands for everything
    under it); ``None`` when the folder is not of the kind. Anything else found in it is
    someone else's, and the folder is not replaced (:func:`foreign_entries`).
    """

    name: str                                            # for messages: "relieflink run folder"
    writer: str                                          # for messages: "a run", "synth"
    contents: Callable[[Path], Collection[str] | None]


def _run_contents(folder: Path) -> Collection[str] | None:
    manifest = read_manifest(folder)
    return None if manifest is None else {*manifest["outputs"], MANIFEST}


#: the output folder of ``relieflink run`` / ``ingest``, recognized by its manifest
RUN_FOLDER = FolderKind("relieflink run folder", "a run", _run_contents)


def _leftover(out: Path, kind: str) -> Path:
    return out.parent / f".{out.name}.relieflink-{kind}"


def foreign_entries(out: Path, kind: FolderKind = RUN_FOLDER) -> list[str]:
    """What OUT holds that its writer did not put there (all of it when OUT is not of ``kind``),
    as paths relative to OUT; a foreign folder is named, not what is inside it."""
    contents = kind.contents(out)
    if contents is None:
        return sorted(os.listdir(out))
    ours = set(contents)
    holders = {p.rsplit("/", k)[0] for p in ours for k in range(1, p.count("/") + 1)}  # folders holding ours
    foreign = []
    for folder, dirs, files in os.walk(out):
        rel = Path(folder).relative_to(out).as_posix()
        prefix = "" if rel == "." else rel + "/"
        descend = []
        for name in sorted(dirs + files):
            path = prefix + name
            if path in ours:
                continue
            if name in dirs and path in holders:
                descend.append(name)
            else:
                foreign.append(path)
        dirs[:] = [d for d in dirs if d in descend]
    return foreign


class _Lock:
    """An exclusive ``flock`` on ``.OUT.relieflink-lock``, the file removed on release.

    Removing the file is safe because a taker checks, once locked, that the file it
    locked is still the one at the path (the holder before it may have removed it)."""

    def __init__(self, path: Path, out: Path) -> None:
        self.path = path
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputRefused(f"another relieflink run (process {holder}) is writing {out}; wait for it to "
                                    f"finish or choose another output folder") from None
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd: int | None = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None


def _recover(out: Path, kind: FolderKind) -> None:
    """Repair what a killed run into OUT left (the lock is held): restore a previous OUT that
    a swap moved away without putting the new one in its place, and remove stale staging."""
    previous = _leftover(out, "previous")
    if previous.is_dir():
        if os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)  # an empty folder made at OUT's path since: the kept output is worth more
        if not os.path.lexists(out):
            os.rename(previous, out)
            log.warning("restored %s from %s: the run that was replacing it was interrupted", out, previous.name)
        elif kind.contents(out) is not None:
            shutil.rmtree(previous)  # the swap had finished: this is the output it replaced
    prefix = _leftover(out, "staging-").name
    for stale in sorted(p for p in out.parent.iterdir() if p.name.startswith(prefix)):
        shutil.rmtree(stale, ignore_errors=True)


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _mb(n: float) -> int:
    return max(1, math.ceil(n / 2**20))


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a C library older than glibc 2.28
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system or file system cannot."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


class StagedOutput:
    """A run's output being written: the lock on OUT and the staging folder, from
    :func:`preflight` until :meth:`commit` or :meth:`abandon`.

    As a context manager it yields the folder to write into (:attr:`folder`),
    sends temporary files into the staging folder meanwhile, commits on success,
    abandons on any exception — and turns a full disk or a permission lost while
    writing into :class:`~relieflink.errors.OutputRefused`.
    """

    def __init__(self, out: Path, shown: Path, root: Path, lock: _Lock, needed: int) -> None:
        self.out = out  # the real path (symbolic links resolved)
        self.shown = shown  # the path as the caller gave it, for messages
        self.root = root
        self.folder = root / "run"
        self.needed = needed
        self._lock = lock
        self._tempdir: str | None = None
        self._done = False

    def __enter__(self) -> Path:
        self._tempdir = tempfile.tempdir
        tempfile.tempdir = str(self.root / "tmp")
        return self.folder

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            self.commit()
            return
        self.abandon()
        if not isinstance(exc, OSError):
            return
        if exc.errno in _NO_SPACE:
            raise OutputRefused(f"no space left on the device holding {self.shown}; free {_mb(self.needed)} MB "
                                f"or choose another output folder") from None
        if exc.errno in _NOT_ALLOWED and str(exc.filename or "").startswith(str(self.root)):
            raise OutputRefused(f"cannot write beside {self.shown} ({os.strerror(exc.errno)}); fix the folder's "
                                f"permissions or choose another output folder") from None

    def _restore_tempdir(self) -> None:
        if tempfile.tempdir == str(self.root / "tmp"):
            tempfile.tempdir = self._tempdir

    def commit(self) -> None:
        """Put the staging folder in OUT's place, then remove the previous OUT and the staging folder."""
        if self._done:
            return
        self._restore_tempdir()
        _kill_point("staged")
        out, previous = self.out, None
        try:
            if not os.path.lexists(out):
                os.rename(self.folder, out)
            elif os.environ.get(KILL_AT) == "between-renames" or not _exchange(self.folder, out):
                previous = _leftover(out, "previous")
                os.rename(out, previous)
                _kill_point("between-renames")
                try:
                    os.rename(self.folder, out)
                except OSError:
                    os.rename(previous, out)
                    raise
            # else: exchanged; the previous OUT is now at self.folder and goes with the staging folder
        except BaseException:
            self.abandon()
            raise
        _kill_point("swapped")
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)
        self._finish()

    def abandon(self) -> None:
        """Drop what was written; OUT stays as it was."""
        if self._done:
            return
        self._restore_tempdir()
        shutil.rmtree(self.root, ignore_errors=True)
        self._finish()

    def _finish(self) -> None:
        self._done = True
        self._lock.release()


def _check_places(out: Path, batch: Path | None, shown: Path, batch_shown: Path | None) -> None:
    """The refusals that need no lock: OUT against the batch folder, OUT not a folder."""
    if batch is not None:
        if out == batch:
            raise OutputRefused(f"the output folder {shown} is the batch folder; write the outputs to another "
                                f"folder (e.g. {batch_shown}-out)")
        if batch in out.parents:
            raise OutputRefused(f"the output folder {shown} is inside the batch folder {batch_shown}; choose a "
                                f"folder outside it")
        if out in batch.parents:
            raise OutputRefused(f"the output folder {shown} contains the batch folder {batch_shown}; choose a "
                                f"folder that does not hold the batch")
    if os.path.lexists(out) and not out.is_dir():
        raise OutputRefused(f"the output folder {shown} is a file, not a folder; choose a folder path for the "
                            f"outputs")


def _check_contents(out: Path, shown: Path, kind: FolderKind) -> None:
    """OUT must be absent, empty or a folder of ``kind`` holding only what its writer wrote, and replaceable."""
    if not out.is_dir():
        return
    foreign = foreign_entries(out, kind)
    if foreign:
        what = f"is not a {kind.name}" if kind.contents(out) is None else "holds files relieflink did not write"
        entries = f"{len(foreign)} entries, e.g." if len(foreign) > 1 else "1 entry:"
        raise OutputRefused(f"the output folder {shown} {what} ({entries} {foreign[0]!r}); "
                            f"{kind.writer} replaces its output folder, so choose a new or empty folder, or move "
                            f"those files away")
    for folder, _, _ in os.walk(out):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputRefused(f"cannot replace the output folder {shown}: {folder} is not writable; fix its "
                                f"permissions or choose another output folder")


def _cannot_write(folder: Path, exc: OSError) -> OutputRefused:
    return OutputRefused(f"cannot write in {folder} ({exc.strerror or type(exc).__name__}); fix the folder's "
                         f"permissions or choose another output folder")


def preflight(out: Path, batch: Path | None = None, *, kind: FolderKind = RUN_FOLDER,
              needed: int | None = None) -> StagedOutput:
    """Check that a job may write ``out`` and prepare it, before any work (see the module's rules).

    ``batch``: the batch folder the run reads. OUT may not overlap it, and the space
    to find free is :data:`SPACE_FACTOR` times its size (at least :data:`SPACE_FLOOR`),
    unless ``needed`` (bytes) says otherwise. ``kind``: what OUT may already be (a run
    folder unless said). Raises :class:`~relieflink.errors.InputRefused` when ``batch``
    is not a folder, :class:`~relieflink.errors.OutputRefused` when OUT may not be written.
    """
    shown, batch_shown = Path(out), batch
    out = Path(os.path.realpath(out))
    if batch is not None:
        batch = Path(os.path.realpath(batch))
        if not batch.is_dir():
            raise InputRefused(f"{batch_shown} is not a folder; pass the folder that holds the agencies' exports")
    _check_places(out, batch, shown, batch_shown)
    if needed is None:
        needed = SPACE_FACTOR * (_folder_bytes(batch) if batch is not None else 0)
    needed = max(SPACE_FLOOR, needed)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock = _Lock(_leftover(out, "lock"), shown)
    except OSError as exc:
        raise _cannot_write(out.parent, exc) from None
    root = None
    try:
        _recover(out, kind)
        _check_contents(out, shown, kind)
        root = Path(tempfile.mkdtemp(prefix=_leftover(out, "staging-").name, dir=out.parent))
        (root / "run").mkdir()
        (root / "tmp").mkdir()
        free = _free_bytes(root)
        if free < needed:
            raise OutputRefused(f"only {_mb(free)} MB free on the device holding {shown}, about {_mb(needed)} MB "
                                f"needed; free {_mb(needed - free)} MB or choose another output folder")
    except BaseException as exc:
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        lock.release()
        if isinstance(exc, OSError):
            raise _cannot_write(out.parent, exc) from None
        raise
    staged = StagedOutput(out, shown, root, lock, needed)
    _kill_point("prepared")
    return staged


def _finite(data: object) -> object:
    """``data`` with NaN and infinities (not JSON) replaced by null: an unknown number."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


def json_text(data: object, *, sort_keys: bool = True) -> str:
    """JSON as relieflink writes it: UTF-8 text, indented, and never NaN (an unknown number is null)."""
    return json.dumps(_finite(data), ensure_ascii=False, indent=2, sort_keys=sort_keys, default=str, allow_nan=False)


def write_json(path: Path, data: object) -> None:
    """Deterministic JSON: sorted keys, UTF-8, trailing newline."""
    Path(path).write_text(json_text(data) + "\n", encoding="utf-8")
