"""The new-generation meter's management unit seen from Python: the far end of its links."""
