"""``uniflg corpus merge``: several corpus folders -> one, so corpora made separately train together.

Each source stays as it was made (its own seed and plan, so it can still be resumed); the merged folder holds
hard links to their files (a copy where the file system cannot link), one manifest per split and a
``corpus.json`` whose counts, speakers, languages and credits are the union of the sources'. Item ids must be
unique across the sources; the merged folder never points outside itself.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm
from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_path

from uniflg_train.corpus.out_folder import changes, check_out, claim_out
from uniflg_train.data.formats import SPLITS, read_rows

FILE_KEYS = ("audio", "landmarks", "alignment")


def link_file(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (a copy where links are impossible); an equal-sized ``dst`` is kept."""
    if dst.exists():
        if dst.stat().st_size == src.stat().st_size:
            return  # merged before (a rerun): keep it
        dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def read_meta(folder: Path) -> dict[str, Any]:
    """``folder``'s corpus.json; InvalidInputError naming the problem when it is missing or not an object."""
    path = folder / "corpus.json"
    if not path.is_file():
        raise InvalidInputError(f"{folder}: not a corpus folder (no corpus.json); make one with `uniflg corpus make`")
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: not valid JSON ({exc}); remake the corpus or restore the file") from None
    if not isinstance(meta, dict):
        raise InvalidInputError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    return meta


def corpus_rows(folder: Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every manifest row of ``folder`` per split, as (where, row): each has an id, and each file it names
    (audio, landmarks, alignment) lies inside the folder and exists; InvalidInputError naming the first that
    does not."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for split in SPLITS:
        manifest = folder / f"{split}.jsonl"
        out[split] = []
        if not manifest.exists():
            continue
        for where, row in read_rows(manifest):
            if isinstance(row, ValueError):
                raise InvalidInputError(f"{where}: {row}")
            if not isinstance(row.get("id"), str) or not row["id"]:
                raise InvalidInputError(f"{where}: the item has no 'id'; remake that corpus")
            for key in FILE_KEYS:
                if row.get(key):
                    rel = Path(str(row[key]))
                    if rel.is_absolute() or ".." in rel.parts:
                        raise InvalidInputError(f"{where}: {key} {row[key]!r} is not inside the corpus folder")
                    if not (folder / rel).is_file():
                        raise InvalidInputError(f"{where}: item {row['id']}'s {key} file {folder / rel} is "
                                                "missing; remake or resume that corpus (`uniflg corpus make`)")
            out[split].append((where, row))
    return out


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + int(value)


def merge_corpora(sources: list[Path], out: Path) -> dict[str, Any]:
    """Merge corpus folders ``sources`` into ``out``; returns the merged ``corpus.json``.

    Raises InvalidInputError when a source is not a corpus, ``out`` is one of the sources or holds another corpus
    (out_folder.claim_out: a rerun with the same sources resumes), or two sources share an item id (they were made
    with the same seed and source).
    """
    if len(sources) < 2:
        raise InvalidInputError("corpus merge: give at least two corpus folders")
    resolved = [s.resolve() for s in sources]
    twice = sorted({str(s) for s in resolved if resolved.count(s) > 1})
    if twice:
        raise InvalidInputError(f"corpus merge: {', '.join(twice)} given more than once; name each corpus once")
    check_out(out, resolved, "corpus merge")
    metas = [read_meta(s) for s in sources]
    seen: dict[str, Path] = {}
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    links: list[tuple[Path, Path]] = []
    for folder in sources:  # every check first: a bad source leaves nothing written
        for split, checked in corpus_rows(folder).items():
            for where, row in checked:
                if row["id"] in seen:
                    raise InvalidInputError(f"{where}: item id {row['id']} is also in {seen[row['id']]}; corpora "
                                            "made with the same seed and source cannot be merged")
                seen[row["id"]] = folder
                links += [(folder / row[key], out / row[key]) for key in FILE_KEYS if row.get(key)]
                rows[split].append(row)
    meta = _merged_meta(metas, sources, rows)
    # the same sources in any order give the same files
    folders = sorted(str(s) for s in resolved)
    claim_out(out, "corpus merge", {"sources": folders}, "uniflg corpus merge",
              lambda previous: _legacy_changes(previous, meta["merged_from"]))
    for src, dst in tqdm(links, desc="merge", unit="file", disable=len(links) < 1000):
        link_file(src, dst)
    for split, chosen in rows.items():
        with atomic_path(out / f"{split}.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    with atomic_path(out / "corpus.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return meta


def _legacy_changes(previous: dict[str, Any], merged_from: list[dict[str, Any]]) -> list[str]:
    """A merge made before the record existed: its ``merged_from`` against this merge's."""
    def folders(entries: list[dict[str, Any]]) -> list[str]:
        return sorted(str(Path(str(e.get("folder"))).resolve()) for e in entries)

    now, before = folders(merged_from), folders(previous.get("merged_from") or [])
    return [] if before == now else changes({"sources": before}, {"sources": now})


def _origins(folder: Path, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """What a source was made from: itself, or the corpora a merged source lists (merges of merges stay flat)."""
    if meta.get("merged_from"):
        return list(meta["merged_from"])
    return [{"folder": str(folder), "seed": meta.get("seed"), "utterances": meta.get("utterances"),
             "version": meta.get("version")}]


def _merged_meta(metas: list[dict[str, Any]], sources: list[Path],
                 rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    first = metas[0]
    for m, folder in zip(metas[1:], sources[1:], strict=True):
        for key in ("sample_rate", "fps", "layout"):
            if m.get(key) != first.get(key):
                raise InvalidInputError(f"corpus merge: {folder} has {key} {m.get(key)!r}, {sources[0]} has "
                                        f"{first.get(key)!r}; corpora must agree on it")
    every = [r for chosen in rows.values() for r in chosen]
    sources_count: dict[str, int] = {}
    languages: dict[str, int] = {}
    nonspeech: dict[str, int] = {}
    for m in metas:
        _add(sources_count, m.get("sources", {}))
        _add(languages, m.get("languages", {}))
        _add(nonspeech, m.get("nonspeech", {}))
    speakers = list(dict.fromkeys(s for m in metas for s in m.get("speakers", ())))
    hts_credit = next((m["voice_credit"] for m in metas if m.get("voice_credit")), None)
    paired = [r for r in every if r.get("landmarks") is not None]
    # the face every paired item was drawn on (None: each speaker's own), per source with paired items; a merged
    # source brings the faces of its own sources
    faces = list(dict.fromkeys(f for m in metas if m.get("paired")
                               for f in (m["faces"] if isinstance(m.get("faces"), list) else [m.get("face")])))
    return {
        **{k: v for k, v in first.items() if k not in ("voice_credit", "faces")},
        **({"voice_credit": hts_credit} if hts_credit else {}),
        "generator": "uniflg corpus merge",
        "seed": None,  # each source's seed is in merged_from
        "merged_from": [entry for f, m in zip(sources, metas, strict=True) for entry in _origins(f, m)],
        "utterances": len(every),
        "paired": len(paired),
        "unpaired": len(every) - len(paired),
        "paired_fraction": round(len(paired) / max(len(every), 1), 4),
        # every source's, from the items themselves (the first source's alone misses the others' faces)
        "paired_speakers": list(dict.fromkeys(r["speaker"] for r in paired)),
        "face": faces[0] if len(faces) == 1 else None,
        **({"faces": faces} if len(faces) > 1 else {}),
        "splits": {split: len(chosen) for split, chosen in rows.items()},
        "hours": round(sum(float(m.get("hours", 0.0)) for m in metas), 4),
        "speakers": speakers,
        "emotions": list(dict.fromkeys(e for m in metas for e in m.get("emotions", ()))),
        "language": "mixed" if len(languages) > 1 else next(iter(languages), None),
        "languages": languages,
        "nonspeech": nonspeech,
        "sources": sources_count,
        "credits": {k: v for m in metas for k, v in m.get("credits", {}).items()},
        "per_speaker": dict(Counter(r["speaker"] for r in every)),
    }
