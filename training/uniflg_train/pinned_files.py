"""Files of public repositories pinned by commit and SHA-256, read from a local copy.

The development set (``uniflg eval devset``) and Kokoro's English voice packs (``uniflg corpus voice-pack``) are
built from public repositories that are never downloaded at run time: the user clones them, and these builders
read each file from that copy, checked against the committed manifest's checksum.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from uniflg.errors import InvalidInputError


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pinned_file(folder: Path, path: str, sha: str, repository: str, commit: str = "") -> bytes:
    """``path``'s bytes from ``folder`` (a copy of ``repository``): the file in the folder when its SHA-256 is
    ``sha``, else the file at ``commit`` when the folder is a git clone (files moved or changed since are still
    read). Raises InvalidInputError naming the folder, the repository and what to do."""
    f = folder / path
    found = ""  # the digest of a file that is there but not the pinned one
    if f.is_file():
        data = f.read_bytes()
        found = sha256(data)
        if found == sha:
            return data
    if folder.is_dir() and commit:  # a clone (or bare mirror) has the commit's file
        proc = subprocess.run(["git", "-C", str(folder), "show", f"{commit}:{path}"], capture_output=True)
        if proc.returncode == 0 and sha256(proc.stdout) == sha:
            return proc.stdout
    where = f"{folder} (a copy of {repository}{' at ' + commit[:12] if commit else ''})"
    if folder.is_file():
        raise InvalidInputError(f"{folder} is a file: --source must be the folder of {where}")
    if not folder.is_dir():
        raise InvalidInputError(f"{folder} not found: --source must hold {where}")
    if commit and _is_git(folder) and not _has_commit(folder, commit):
        raise InvalidInputError(f"the clone {folder} lacks commit {commit[:12]}, which {path} is read at (a shallow "
                                f"or older clone?): run `git -C {folder} fetch origin {commit}` (or `git fetch "
                                "--unshallow`)")
    if found:
        at = f" at {commit[:12]}" if commit else ""
        raise InvalidInputError(f"{f} has sha256 {found[:12]}..., not the pinned {sha[:12]}... of {where}: put back "
                                f"the repository's file{at} (git clone {repository})")
    raise InvalidInputError(f"{path} not found in {where} with sha256 {sha[:12]}...: clone the "
                            f"repository there (git clone {repository}), or copy that commit's file")


def _is_git(folder: Path) -> bool:
    """``folder`` is itself a clone or a bare repository (not a plain folder inside some other repository)."""
    proc = subprocess.run(["git", "-C", str(folder), "rev-parse", "--git-dir"], capture_output=True, text=True)
    if proc.returncode != 0:
        return False
    git_dir = (folder / proc.stdout.strip()).resolve()
    return git_dir in (folder.resolve(), (folder / ".git").resolve())


def _has_commit(folder: Path, commit: str) -> bool:
    proc = subprocess.run(["git", "-C", str(folder), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    return proc.returncode == 0
