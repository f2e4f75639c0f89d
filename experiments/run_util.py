"""What the experiment scripts share: running a command, its output kept or logged."""
import subprocess
import sys


def run(cmd, log=None, who="experiment"):
    """Runs cmd (printed to stderr first); returns its stdout and stderr together, also written to
    `log` when given; a failure stops the script with `who: command failed` and the output's tail."""
    print("$ " + " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    out = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if log:
        with open(log, "w") as f:
            f.write(out.stdout)
    if out.returncode != 0:
        sys.exit(f"{who}: command failed ({out.returncode}):\n{out.stdout[-3000:]}")
    return out.stdout
