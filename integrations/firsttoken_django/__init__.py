"""firsttoken for Django."""
