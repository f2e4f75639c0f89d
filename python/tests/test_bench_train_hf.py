"""scripts/bench_train_hf.py (ours against HF + PyTorch, same machine): without an importable
transformers it stops with one clear error line and writes nothing, and bad arguments are refused.
The timing itself needs transformers, which Debian does not package; the README gives its run."""
import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "bench_train_hf.py")


def run(args, tmp_path, pythonpath):
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run([sys.executable, SCRIPT] + args, capture_output=True, text=True, env=env, cwd=tmp_path)


def test_without_transformers_one_error_and_no_output(tmp_path):
    fake = tmp_path / "fake"
    (fake / "transformers").mkdir(parents=True)
    (fake / "transformers" / "__init__.py").write_text("raise ImportError('no transformers here')\n")
    r = run(["--json", str(tmp_path / "out.json"), "--lengths", "128"], tmp_path, fake)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "transformers" in lines[0], r.stderr
    assert not (tmp_path / "out.json").exists()


def test_bad_arguments(tmp_path):
    r = run(["--repeats", "0"], tmp_path, tmp_path)
    assert r.returncode != 0 and "--repeats" in r.stderr
