"""Two-stage UniFLG training: stage 1 VAE-VITS (:mod:`.vits`), stage 2 the landmark decoder (:mod:`.landmarks`)."""
