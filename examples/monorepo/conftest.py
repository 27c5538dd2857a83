# Makes the modules importable from the top-level tests (pytest's rootdir conftest).
