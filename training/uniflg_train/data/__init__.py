"""Dataset formats (JSONL manifests, Unpaired/Paired), validation, the feature cache and the torch Dataset."""
