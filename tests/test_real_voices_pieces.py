"""Pieces of the real-voices retrain: Kokoro's English phonemes, speaker rows carried over by name."""

from __future__ import annotations

import pytest
import torch
from uniflg.config import tiny_config
from uniflg.model.system import UniFLG
from uniflg_train.corpus.kokoro_voice import kokoro_ipa
from uniflg_train.trainer.vits import _carry_condition_rows


def test_espeak_ipa_is_written_in_kokoros_vocabulary():
    # espeak-ng: "boy enjoyed" / "night owl" / "bird" / "water" (flap) / "judge church" / "go" (secondary stress).
    assert kokoro_ipa("b_ˈɔɪ ɛ_n_dʒ_ˈɔɪ_d") == "bˈY ɛnʤˈYd"
    assert kokoro_ipa("n_ˈaɪ_t ˈaʊ_l") == "nˈIt ˈWl"
    assert kokoro_ipa("b_ˈɜː_d w_ˈɔː_ɾ_ɚ") == "bˈɜɹd wˈɔTəɹ"
    assert kokoro_ipa("dʒ_ˈʌ_dʒ tʃ_ˈɜː_tʃ") == "ʤˈʌʤ ʧˈɜɹʧ"
    assert kokoro_ipa("ɡ_ˌoʊ s_ˈeɪ") == "ɡO sˈA"
    assert "\u200d" not in kokoro_ipa("a\u200dɪ") and "ː" not in kokoro_ipa("ˈiː")


def test_new_speakers_get_fresh_rows_and_known_ones_keep_theirs():
    torch.manual_seed(0)
    old = UniFLG(tiny_config(speakers=("mei", "low", "bright", "soft")))
    new = UniFLG(tiny_config(speakers=("mei", "low", "bright", "soft", "espeak_en-us", "kokoro_jm_kumo")))
    fresh = new.g_embedding.weight.detach().clone()
    weights = dict(old.state_dict())
    _carry_condition_rows(new, old, weights)
    new.load_state_dict(weights)
    got, was = new.g_embedding.weight.detach(), old.g_embedding.weight.detach()
    assert got.shape[0] == 6
    torch.testing.assert_close(got[:4], was)          # mei..soft by name
    torch.testing.assert_close(got[4:], fresh[4:])    # new speakers: their fresh rows
    # Reordered names are matched by name, not position.
    swapped = UniFLG(tiny_config(speakers=("soft", "mei", "espeak_en-us")))
    weights = dict(old.state_dict())
    _carry_condition_rows(swapped, old, weights)
    torch.testing.assert_close(weights["g_embedding.weight"][0], was[3])
    torch.testing.assert_close(weights["g_embedding.weight"][1], was[0])
    with pytest.raises(RuntimeError):  # without the carry, the shapes do not fit
        swapped.load_state_dict(dict(old.state_dict()))
