"""A model's rows for speakers and emotions, and the stand-in row for speakers it never heard.

At run time a voice reads speech of people it never heard with row 0, its first speaker (``Voice.condition_index``
when no speaker is named). Training on such speech (natural voices the stage-1 model was not trained on, timed
by ``corpus pair``) reads it the same way when a stand-in is named: the model learns the condition it will meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from uniflg.errors import InvalidInputError


def check_stand_in(stand_in: str | None, speakers: Sequence[str], owner: str = "the model") -> None:
    """InvalidInputError when ``stand_in`` names no speaker of ``speakers``."""
    if stand_in is not None and stand_in not in speakers:
        raise InvalidInputError(f"--unknown-speakers-as {stand_in}: {owner} has no such speaker; it has "
                                f"{', '.join(speakers)}")


def check_as_unknown(as_unknown: Sequence[str], stand_in: str | None, speakers: Sequence[str],
                     owner: str = "the model") -> None:
    """``--read-as-unknown NAMES`` needs a stand-in and names the model's own speakers (others are unknown anyway);
    InvalidInputError naming what is wrong."""
    if as_unknown and stand_in is None:
        raise InvalidInputError("--read-as-unknown needs --unknown-speakers-as NAME (the row to read them with)")
    stray = [n for n in as_unknown if n not in speakers]
    if stray:
        raise InvalidInputError(f"--read-as-unknown {', '.join(stray)}: {owner} has no such speaker (speakers it "
                                f"lacks are read with --unknown-speakers-as already); it has {', '.join(speakers)}")
    if stand_in in as_unknown:
        raise InvalidInputError(f"--read-as-unknown {stand_in}: that is the stand-in itself")


def speaker_rows(names: Iterable[str], speakers: Sequence[str], stand_in: str | None = None,
                 owner: str = "the model", hint: str = "", as_unknown: Sequence[str] = ()) -> dict[str, int]:
    """Row of each of ``names`` in ``speakers``; a name not there, or in ``as_unknown`` (speakers the model heard
    in stage 1 but whose items should train the condition unknown speech meets), takes ``stand_in``'s row.

    Raises InvalidInputError naming every speaker with no row when there is no stand-in (``hint``: what else the
    caller's command offers, e.g. "choose items with --paired-speakers")."""
    check_stand_in(stand_in, speakers, owner)
    check_as_unknown(as_unknown, stand_in, speakers, owner)
    names = sorted(set(names))
    row = {name: i for i, name in enumerate(speakers) if name not in as_unknown}  # their rows stay, unused here
    missing = [n for n in names if n not in row]
    if missing and stand_in is None:
        raise InvalidInputError(f"{owner} has no speaker {', '.join(missing)} (it has {', '.join(speakers)}); "
                                f"{hint + ', or ' if hint else ''}read them with one of its speakers' rows: "
                                "--unknown-speakers-as NAME")
    return {name: row.get(name, row.get(stand_in or "", -1)) for name in names}  # a stand-in exists where needed
