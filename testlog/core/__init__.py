"""Pure rules and formats: no I/O, no pytest, no gitstore (the layering test checks)."""
