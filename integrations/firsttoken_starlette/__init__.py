"""firsttoken for Starlette."""
