"""Write the Unity .meta files of the package (run after adding a file; tests/test_unity_core.py checks).

Unity ignores assets without a .meta file inside immutable packages (installed from git or a tarball),
so every file and folder outside the '~' folders needs one. GUIDs are derived from the path, so running
this again changes nothing.

    python engine_bridge/unity/Tests~/make_meta.py
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
NAME = "com.uniflg.face"

_TAIL = "  externalObjects: {}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n",
    ".asmdef": "AssemblyDefinitionImporter:\n" + _TAIL,
    ".json": "PackageManifestImporter:\n" + _TAIL,
}
TEXT = "TextScriptImporter:\n" + _TAIL


def assets(root: Path = PACKAGE) -> list[Path]:
    """Files and folders Unity imports: everything except .meta files and '~' / hidden folders."""
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.endswith("~") or part.startswith(".") for part in rel.parts) or path.suffix == ".meta":
            continue
        out.append(path)
    return out


def meta_text(path: Path) -> str:
    guid = hashlib.md5(f"{NAME}/{path.relative_to(PACKAGE).as_posix()}".encode()).hexdigest()
    head = f"fileFormatVersion: 2\nguid: {guid}\n"
    if path.is_dir():
        return head + "folderAsset: yes\nDefaultImporter:\n" + _TAIL
    return head + IMPORTERS.get(path.suffix, TEXT)


def main() -> None:
    for path in assets():
        meta = path.with_name(path.name + ".meta")
        text = meta_text(path)
        if not meta.exists() or meta.read_text() != text:
            meta.write_text(text)
            sys.stdout.write(f"wrote {meta.relative_to(PACKAGE)}\n")


if __name__ == "__main__":
    main()
