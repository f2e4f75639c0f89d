"""scripts/bench_sweep.py with several dtypes: one row per (attention, dtype) naming the matrix unit and
the unit's own GEMM rate from the same process, the README section between its own markers replaced
(the rest of the README untouched), an SVG that parses, and a bad dtype refused before any run."""
import json
import os
import subprocess
import sys
import xml.dom.minidom

from conftest import EXE, ROOT

SCRIPT = os.path.join(ROOT, "scripts", "bench_sweep.py")


def sweep(tmp_path, *args):
    return subprocess.run([sys.executable, SCRIPT, "--bigbird", EXE, "--shape", "small", "--layers", "1",
                           "--repeats", "1", "--threads", "1", "--out", str(tmp_path), "--readme",
                           str(tmp_path / "R.md")] + list(args), capture_output=True, text=True)


def test_dtype_rows_units_ceiling_and_readme_section(tmp_path):
    (tmp_path / "R.md").write_text("intro\n<!-- bench-dt:begin -->\nold\n<!-- bench-dt:end -->\noutro\n")
    r = sweep(tmp_path, "--sparse", "512", "--full", "256", "--dtype", "f32,bf16,int8", "--name", "dt")
    assert r.returncode == 0, r.stderr
    rows = json.load(open(tmp_path / "dt.json"))
    assert [(x["attention"], x["dtype"]) for x in rows] == [
        ("block_sparse", "f32"), ("block_sparse", "bf16"), ("block_sparse", "int8"),
        ("original_full", "f32"), ("original_full", "bf16"), ("original_full", "int8")]
    for x in rows:
        assert "error" not in x, x
        assert x["matrix_unit"] in ("avx512", "avx2", "scalar", "avx512_bf16", "avx512_vnni", "amx"), x
        assert x["ceiling_gflops"] > 0 and x["of_ceiling"] > 0
    readme = (tmp_path / "R.md").read_text()
    assert readme.startswith("intro\n") and readme.endswith("outro\n") and "old" not in readme
    body = readme[readme.index("<!-- bench-dt:begin -->"):readme.index("<!-- bench-dt:end -->")]
    assert body.count("| block_sparse |") == 3 and "| int8 |" in body and "unit's GEMM GFLOP/s" in body
    xml.dom.minidom.parse(str(tmp_path / "dt.svg"))


def test_bad_dtype_refused_before_any_run(tmp_path):
    r = sweep(tmp_path, "--sparse", "512", "--full", "", "--dtype", "f32,fp8")
    assert r.returncode != 0 and "fp8" in r.stderr
    assert not (tmp_path / "sweep.json").exists() and not (tmp_path / "R.md").exists()
