"""`make perf`: run every benchmark script in this folder (bench_*.py: bench_log.py among them;
logfixture.py is their shared helper), each printing its own ratios."""
import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).parent
failed = 0
for script in sorted(here.glob("bench_*.py")):
    print(f"== {script.name}", flush=True)
    failed |= subprocess.run([sys.executable, str(script)]).returncode
sys.exit(failed)
