"""Output directories that never destroy what npas did not write, and that are replaced whole or not at all.

Every command writes its outputs as one set: into a staging directory beside the target, which is then swapped in
with one atomic rename (Linux ``renameat2(RENAME_EXCHANGE)``, so at every moment the target path holds either the
old output or the new one, whole). A target is replaced only when it is empty or holds a previous npas output: a
marker file (``.npas-output.json``) lists what npas wrote there and of which kind (model, forecast, ...). A directory
with anything else in it is refused, whatever the options; a previous output of another kind needs ``force``. A
lock file beside the target makes a second writer of the same target exit 2 instead of silently losing one result.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from forecasting.data.problems import InputError, Problem

MARKER = ".npas-output.json"
KINDS = ("dataset", "model", "forecast", "backtest", "report", "structure")
_STAGING = ".npas-staging-"
_LOCK = ".npas-lock"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _problem(path: Path | str, reason: str) -> InputError:
    return InputError(Problem(str(path), None, None, reason))


def _listing(directory: Path) -> set[str]:
    """Every file and directory under ``directory``, relative, with '/' separators."""
    out = set()
    for root, dirs, files in os.walk(directory):
        base = Path(root).relative_to(directory)
        for name in dirs + files:
            out.add((base / name).as_posix())
    return out


def read_marker(directory: Path) -> dict | None:
    """The marker of a previous npas output, or None when there is none (or it is not npas's)."""
    path = Path(directory) / MARKER
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
            return None
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(marker, dict) or marker.get("kind") not in KINDS or not isinstance(marker.get("files"), list):
        return None
    return marker


def _forbidden(target: Path) -> str | None:
    """Why ``target`` may never be replaced, or None."""
    cwd = Path.cwd().resolve()
    resolved = target.resolve()
    if target.is_symlink():
        return "is a symbolic link; give the directory itself"
    if resolved == Path(resolved.anchor):
        return "is the root directory"
    if resolved == Path.home().resolve():
        return "is the home directory"
    if resolved == cwd or resolved in cwd.parents:
        return "is the working directory or one of its parents"
    return None


def check_target(target: Path, kind: str, force: bool = False, protect: tuple[Path, ...] = ()) -> None:
    """Raise InputError unless ``target`` may receive a new ``kind`` output (see the module docstring)."""
    raw = str(target)
    if raw.strip() == "":
        raise _problem("--out", "is empty; give a directory name")
    target = Path(os.path.abspath(target))
    why = _forbidden(target)
    if why:
        raise _problem(raw, f"{why}: npas writes into a new or empty directory, or over its own previous output")
    for inp in protect:
        inp = Path(os.path.abspath(inp))
        if target == inp or target in inp.parents:
            raise _problem(raw, f"would replace the input {inp}; choose another output directory")
    for parent in [target, *target.parents]:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                where = "is" if parent == target else f"is under {parent}, which is"
                raise _problem(raw, f"{where} a file, not a directory")
            break
    if not target.is_dir():
        return
    present = _listing(target)
    if not present:
        return
    marker = read_marker(target)
    if marker is None:
        raise _problem(raw, "holds files npas did not write; choose a new or empty directory (nothing was changed)")
    foreign = sorted(present - set(marker["files"]) - {MARKER})
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise _problem(raw, f"holds files npas did not write ({shown}); move them or choose another directory "
                            f"(nothing was changed)")
    if marker["kind"] != kind and not force:
        raise _problem(raw, f"holds a previous npas {marker['kind']} output; pass --force to replace it with a {kind} "
                            f"output, or choose another directory")


class _Lock:
    """An exclusive, non-blocking lock on a hidden file beside the target; removed when released."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self, target: str) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise _problem(target, "another npas command is writing this directory now; wait for it, or choose "
                                       "another directory") from None
            try:  # the file may have been removed by its previous holder between our open and our lock
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    libc = _libc()
    fn = getattr(libc, "renameat2", None) if libc is not None else None
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if exchange(staging, target):
        shutil.rmtree(staging)  # now holds the previous output
        return
    old = target.with_name(f".{target.name}{_STAGING}old-{os.getpid()}")
    os.rename(target, old)  # no atomic exchange here: the gap is the two renames, and a rerun restores `old`
    os.rename(staging, target)
    shutil.rmtree(old)


def _clean_stale(target: Path) -> None:
    """Remove staging directories left by killed runs (we hold the lock: no live writer owns them); restore an old
    output a killed run had moved aside where no atomic exchange exists."""
    stale = sorted(target.parent.glob(f".{target.name}{_STAGING}*"))
    for path in stale:
        if not target.exists() and path.name.startswith(f".{target.name}{_STAGING}old-"):
            os.rename(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def output_set(target: Path | str, kind: str, force: bool = False, protect: tuple[Path, ...] = ()) -> Iterator[Path]:
    """Write a command's outputs as one set: yields a staging directory; on success it replaces ``target`` whole.

    On any failure (or kill) the target is left exactly as it was. See the module docstring for what may be replaced.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    check_target(Path(target), kind, force, protect)
    target = Path(os.path.abspath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = _Lock(target.with_name(f".{target.name}{_LOCK}"))
    lock.acquire(str(target))
    staging = None
    try:
        _clean_stale(target)
        check_target(target, kind, force, protect)  # again, under the lock
        staging = target.with_name(f".{target.name}{_STAGING}{os.getpid()}-{os.urandom(4).hex()}")
        staging.mkdir()  # mode 0o777 less the umask, like any directory the user makes
        yield staging
        files = sorted(_listing(staging))
        marker = {"kind": kind, "npas": version("npas"), "written": dt.datetime.now().isoformat(timespec="seconds"),
                  "files": files}
        (staging / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
        _swap_in(staging, target)
        staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        lock.release()
