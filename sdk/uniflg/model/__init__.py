"""nn.Module definitions shared by training, export and the torch backend (needs torch when imported)."""
