"""UniFLG training: corpora, datasets, losses, trainers, evaluation and export.

Imports the runtime, never the reverse."""
