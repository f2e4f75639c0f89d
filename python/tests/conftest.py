"""Helpers of the Python package's tests: the `bigbird` CLI as a subprocess (the reference every
test compares with), fixture paths, and a small safetensors reader.

The paths come from the environment CTest sets (python/CMakeLists.txt); run by hand:
    BIGBIRD_EXE=build/bigbird PYTHONPATH=build/python python3 -m pytest python/tests
"""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXE = os.environ.get("BIGBIRD_EXE", os.path.join(ROOT, "build", "bigbird"))
DATA = os.environ.get("BIGBIRD_TEST_DATA", os.path.join(ROOT, "tests", "data"))
MODELS = os.environ.get("BIGBIRD_MODELS", os.path.join(ROOT, "models"))

MLM = os.path.join(MODELS, "tiny-mlm")
TAGGER = os.path.join(MODELS, "tiny-tagger")
PEGASUS = os.path.join(MODELS, "tiny-pegasus")
TOKENIZER = os.path.join(DATA, "tokenizer-hf", "bigbird")
SEQCLS = os.path.join(DATA, "roberta-tiny", "seqcls")
QA = os.path.join(DATA, "roberta-tiny", "qa")
PRETRAINING = os.path.join(DATA, "roberta-tiny", "pretraining")
PEGASUS_FIXTURES = os.path.join(DATA, "pegasus-tiny")
QA_CONTEXT = os.path.join(DATA, "tasks", "qa_context.txt")


def run_cli(args, stdin=None):
    """The CLI's (exit status, stdout, stderr)."""
    p = subprocess.run([EXE] + [str(a) for a in args], input=stdin, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="2"))
    return p.returncode, p.stdout, p.stderr


def cli_json(args):
    """The JSON lines the CLI prints, parsed (one answer per input)."""
    rc, out, err = run_cli(args)
    assert rc == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def cli_error(args):
    """The message of the CLI's one `error: ...` line (exit status 1)."""
    rc, out, err = run_cli(args)
    assert rc == 1, (rc, out, err)
    lines = [l for l in err.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0][len("error: "):]


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32, I64, I32), and its metadata."""
    dtypes = {"F32": np.float32, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(body[b:e], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out, header.get("__metadata__", {})


def write_safetensors(path, tensors):
    """Writes int64 / float32 numpy arrays as a safetensors file (inputs of `bigbird forward`)."""
    names = {np.dtype(np.int64): "I64", np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        data = a.tobytes()
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


@pytest.fixture(scope="session")
def bigbird():
    import bigbird as module
    return module


def checkpoint_with_tokenizer(tmp_path, weights_dir):
    """A directory with `weights_dir`'s config + weights and the fixture tokenizer's files."""
    d = tmp_path / os.path.basename(weights_dir)
    d.mkdir()
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(weights_dir, f), d / f)
    for f in ("spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(TOKENIZER, f), d / f)
    return str(d)
