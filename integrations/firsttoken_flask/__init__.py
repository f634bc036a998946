"""firsttoken for Flask."""
