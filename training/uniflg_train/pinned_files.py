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
    if f.is_file():
        data = f.read_bytes()
        if sha256(data) == sha:
            return data
    if folder.is_dir() and commit:  # a clone (or bare mirror) has the commit's file
        proc = subprocess.run(["git", "-C", str(folder), "show", f"{commit}:{path}"], capture_output=True)
        if proc.returncode == 0 and sha256(proc.stdout) == sha:
            return proc.stdout
    where = f"{folder} (a copy of {repository}{' at ' + commit[:12] if commit else ''})"
    if not folder.is_dir():
        raise InvalidInputError(f"{folder} not found: --source must hold {where}")
    raise InvalidInputError(f"{path} not found in {where} with sha256 {sha[:12]}...: clone the "
                            f"repository there (git clone {repository}), or copy that commit's file")
