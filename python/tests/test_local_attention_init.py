"""experiments/local_attention_init.py, the starting point of the shipped MLM recipes, against the
engine: the heads it sets attend to the offsets it was given, as `bigbird attention` measures them,
the result is an ordinary checkpoint the CLI loads and trains from, and bad arguments are refused."""
import json
import os
import subprocess
import sys

import numpy as np

from conftest import DATA, ROOT, run_cli

SCRIPT = os.path.join(ROOT, "experiments", "local_attention_init.py")
DNA_TOK = os.path.join(DATA, "dna-tiny", "mlm")


def random_init(tmp_path, layers=2, heads=2, hidden=64):
    """The plain random initialisation of a small per-base MLM (one step at learning rate 0)."""
    tmp_path = tmp_path / f"h{heads}"
    tmp_path.mkdir()
    cfg = json.load(open(os.path.join(DNA_TOK, "config.json")))
    cfg.update(hidden_size=hidden, num_attention_heads=heads, intermediate_size=2 * hidden,
               num_hidden_layers=layers, max_position_embeddings=128, attention_type="original_full",
               hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(0)
    with open(tmp_path / "train.jsonl", "w") as f:
        for _ in range(4):
            f.write(json.dumps({"text": "".join(rng.choice(list("ACGT"), 200))}) + "\n")
    out = tmp_path / "init"
    rc, _, err = run_cli(["train", "--config", tmp_path / "config.json", "--tokenizer", DNA_TOK,
                          "--train-file", tmp_path / "train.jsonl", "--max-seq-length", 128, "--max-steps", 1,
                          "--learning-rate", 0, "--threads", 1, "--no-progress", "--save-steps", 0,
                          "--output-dir", out])
    assert rc == 0, err
    return out


def run_init(*args):
    return subprocess.run([sys.executable, SCRIPT] + [str(a) for a in args], capture_output=True, text=True)


def token_maps(model, text, tmp_path):
    out = tmp_path / "map.json"
    rc, _, err = run_cli(["attention", "--model", model, "--text", text, "--threads", 1, "--output", out])
    assert rc == 0, err
    return np.array(json.load(open(out))["bertviz"]["attn"], dtype=np.float64)


def test_heads_attend_to_their_offsets(tmp_path):
    init = random_init(tmp_path)
    local = tmp_path / "local"
    p = run_init("--model", init, "--out", local, "--offsets=-1,2;3,*", "--value-std", 0.125)
    assert p.returncode == 0, p.stderr
    text = "".join(np.random.default_rng(1).choice(list("ACGT"), 100))
    attn = token_maps(local, text, tmp_path)          # [layer, batch, head, query, key]
    attn = attn.reshape(attn.shape[0], -1, attn.shape[-2], attn.shape[-1])
    n = attn.shape[-1]
    assert n == 102
    rows = range(4, n - 4)
    for layer, head, offset in [(0, 0, -1), (0, 1, 2), (1, 0, 3)]:
        # mean attention mass at each relative offset -4..4 over the interior rows
        rel = {d: np.mean([attn[layer, head, i, i + d] for i in rows]) for d in range(-4, 5)}
        assert max(rel, key=rel.get) == offset, (layer, head, rel)
        # Layer 0 reads the embeddings the scale was measured on: the peak logit is 8 above a typical
        # key's, so most of each row's mass. Deeper layers read a residual stream that layer 0's
        # outputs have diluted, so their peak is softer (but still the largest).
        assert rel[offset] > (0.8 if layer == 0 else 0.2), (layer, head, rel)
    # '*' keeps the random head: nearly uniform, far from any single offset.
    assert attn[1, 1, 10:-10].max() < 0.2
    # The plain initialisation is nearly uniform everywhere.
    plain = token_maps(init, text, tmp_path)
    assert plain.max() < 0.2


def test_the_checkpoint_trains_and_keeps_the_rest(tmp_path):
    init = random_init(tmp_path)
    local = tmp_path / "local"
    assert run_init("--model", init, "--out", local, "--offsets=-1,1").returncode == 0
    sys.path.insert(0, os.path.dirname(SCRIPT))
    from local_attention_init import load
    a, _ = load(init / "model.safetensors")
    b, _ = load(local / "model.safetensors")
    assert sorted(a) == sorted(b)
    touched = {"bert.embeddings.position_embeddings.weight", "bert.embeddings.word_embeddings.weight"} | {
        f"bert.encoder.layer.0.attention.self.{p}.{w}" for p in ("query", "key") for w in ("weight",)}  # biases start at zero and stay zero
    for name in a:
        assert a[name].shape == b[name].shape
        assert np.array_equal(a[name], b[name]) == (name not in touched), name
    rc, _, err = run_cli(["train", "--model", local, "--tokenizer", DNA_TOK, "--train-file", init.parent / "train.jsonl",
                          "--max-seq-length", 128, "--max-steps", 2, "--learning-rate", 1e-3, "--threads", 1,
                          "--no-progress", "--save-steps", 0, "--output-dir", tmp_path / "trained"])
    assert rc == 0, err
    rc, out, err = run_cli(["fill-mask", "--model", tmp_path / "trained", "--threads", 1, "ACG[MASK]TACG"])
    assert rc == 0, err
    assert json.loads(out.splitlines()[0])


def test_bad_arguments_are_refused(tmp_path):
    init = random_init(tmp_path, heads=4)             # head size 16: too small for 16 sinusoid pairs
    p = run_init("--model", init, "--out", tmp_path / "x", "--offsets=-1,1,2,3")
    assert p.returncode != 0 and "head size 16" in p.stderr
    assert not (tmp_path / "x").exists()
    init = random_init(tmp_path)
    for offsets, words in [("-1,1;1,2;3,4", "3 layers of offsets"), ("-1", "names 1 offsets for 2 heads"),
                           ("a,b", "not an offset")]:
        p = run_init("--model", init, "--out", tmp_path / "y", f"--offsets={offsets}")
        assert p.returncode != 0 and words in p.stderr, p.stderr
        assert not (tmp_path / "y").exists()
    p = run_init("--model", init, "--out", init)
    assert p.returncode != 0 and "must differ" in p.stderr
