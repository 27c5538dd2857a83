"""Replay: re-execute a recorded run bit for bit and judge every test against its record.

Pure parts (plan, environment, outputs, judge, report, compare) are separate from the I/O
(loading, checkout, interpreter, launch, publish). The pytest side is testlog/replay_plugin.py.
"""
