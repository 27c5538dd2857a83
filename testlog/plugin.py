"""pytest entry point (pytest11: testlog). Cheap to import: the recorder loads only when enabled."""
