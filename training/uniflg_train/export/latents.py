"""Named utterance latents for a voice: the mean z_u (utterance-encoder mean) of each emotion (UniFLG) or
speaker (UniFLG-AS) over training items, so `--emotion happy` selects a measured style, not a random draw."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import torch
from uniflg.model.system import UniFLG

log = logging.getLogger(__name__)


@torch.no_grad()
def utterance_latents(model: UniFLG, data: Path, per_name: int = 64) -> dict[str, dict[str, list[float]]]:
    """-> {"emotion" | "speaker": {name: z_u}} averaged over up to ``per_name`` train items per name."""
    from uniflg_train.data.dataset import open_dataset

    dataset = open_dataset(Path(data), "train", text_only=True)  # non-speech would pull the styles off speech
    kind = "speaker" if model.cfg.variant.conditioning == "emotion" else "emotion"
    names = dataset.speakers if kind == "speaker" else dataset.emotions
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = defaultdict(int)
    model.eval()
    for i in range(len(dataset)):
        item = dataset[i]
        name = names[item[kind]]
        if counts[name] >= per_name:
            continue
        mel = torch.from_numpy(item["mel"]).float()[None]
        _, mu, _ = model.encode_utterance(mel, torch.tensor([mel.size(2)]))
        sums[name] = sums.get(name, torch.zeros_like(mu[0])) + mu[0]
        counts[name] += 1
        if all(counts[n] >= per_name for n in names):
            break
    table = {n: (sums[n] / counts[n]).round(decimals=5).tolist() for n in names if counts[n]}
    log.info("utterance latents (%s): %s", kind, {n: counts[n] for n in table})
    return {kind: table}
