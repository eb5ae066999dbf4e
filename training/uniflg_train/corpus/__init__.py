"""Procedural paired corpus: Japanese sentences, HTS speech with exact phoneme timing, 70-point faces."""
