#!/usr/bin/env python3
"""A local-attention starting point for MLM pretraining from scratch.

Post-LN BERT-style MLM from scratch sits for thousands of steps on the unigram plateau: with
random query/key weights every token attends almost uniformly to its whole window, so a masked
token's neighbours reach it with weight ~1/(keys in view) and the model first has to discover
position-to-position attention through learned absolute position embeddings. This writes an
ordinary HF BigBird checkpoint whose first layers already attend to fixed offsets:

  * the position embeddings carry P sinusoid pairs (frequencies chosen so that the sum of cosines
    is 16 at offset 0 and at most 6 at any other offset up to 511) in the first 2P dimensions, the
    word embeddings are zero there;
  * in the layers named by --offsets, head h's key projection copies those 2P dimensions and its
    query projection copies them rotated by offset s_h, so q_i . k_j ~ sum_f cos(w_f (i + s_h - j)):
    head h attends mostly to token i + s_h;
  * everything else keeps the random initialisation `bigbird train --config` gave it.

The model stays a stock BigBirdForMaskedLM: nothing here is an architecture change, only where
gradient descent starts, and every weight stays trainable.

  python3 experiments/local_attention_init.py --model INIT_DIR --out OUT_DIR \
      [--offsets=-1,1,-2,2;-3,3,-4,4] [--sharpness 0.5] [--value-std 0.088]

INIT_DIR is a checkpoint written by `bigbird train --config ... --max-steps 1 --learning-rate 0`
(the random initialisation, unchanged).
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

# 16 frequencies (radians per token) found by random search: sum_f cos(w_f d) is 16 at d = 0 and
# at most 6.02 for 1 <= |d| <= 511.
FREQS = np.array([0.7507, 0.842, 0.9785, 1.5981, 1.6549, 1.7879, 1.992, 2.0294, 2.1202, 2.2919,
                  2.3177, 2.4867, 2.6706, 2.7375, 2.7557, 2.945])


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None)
    tensors = {}
    for name, m in header.items():
        if m["dtype"] != "F32":
            raise SystemExit(f"local_attention_init: {name} is {m['dtype']}, expected F32")
        a, b = m["data_offsets"]
        tensors[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(m["shape"]).copy()
    return tensors, meta


def save(path, tensors, meta):
    header, off = {}, 0
    if meta is not None:
        header["__metadata__"] = meta
    names = sorted(tensors)
    for name in names:
        nb = tensors[name].size * 4
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + nb]}
        off += nb
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name in names:
            f.write(tensors[name].astype("<f4").tobytes())
    os.replace(path + ".tmp", path)


def layer_norm(x, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--offsets", default="-1,1,-2,2;-3,3,-4,4",
                    help="per layer (';'-separated, from layer 0), one offset per head (','-separated); "
                         "'*' keeps a head random; layers not named stay random")
    ap.add_argument("--sharpness", type=float, default=0.5,
                    help="attention logit per unit of the cosine sum at initialisation (peak logit = 16x this)")
    ap.add_argument("--amplitude", type=float, default=0.05,
                    help="amplitude of the sinusoids in the position embeddings (word embeddings are std 0.02)")
    ap.add_argument("--value-std", type=float, default=0.0,
                    help="if > 0, redraw the value and attention-output weights of the offset layers with this "
                         "standard deviation (e.g. 1/sqrt(hidden)), so that what a head reads is not lost "
                         "under the residual at the start")
    ap.add_argument("--alpha", type=float, default=None,
                    help="the query/key scale itself, instead of the one --sharpness gives (to repeat a run "
                         "exactly: the recipes name the value their models started from)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the value and attention-output draws")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    if os.path.abspath(args.model) == os.path.abspath(args.out):
        raise SystemExit("local_attention_init: --out must differ from --model")
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    t, meta = load(os.path.join(args.model, "model.safetensors"))
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = hidden // heads
    pairs = len(FREQS)
    if dh < 2 * pairs:
        raise SystemExit(f"local_attention_init: head size {dh} < {2 * pairs}")
    layers = [s for s in args.offsets.split(";") if s.strip()]
    if len(layers) > cfg["num_hidden_layers"]:
        raise SystemExit(f"local_attention_init: {len(layers)} layers of offsets for a {cfg['num_hidden_layers']}-layer model")

    pos = t["bert.embeddings.position_embeddings.weight"]
    n = pos.shape[0]
    ang = np.outer(np.arange(n), FREQS)                      # [n, pairs]
    pos[:, :] = 0
    pos[:, 0:2 * pairs:2] = args.amplitude * np.cos(ang)
    pos[:, 1:2 * pairs:2] = args.amplitude * np.sin(ang)
    word = t["bert.embeddings.word_embeddings.weight"]
    word[:, :2 * pairs] = 0

    # The peak logit at alpha = 1, measured: the embedding LayerNorm's output of a sample of words at
    # the first 512 positions (its mean subtraction and scaling are not a pure rescaling of the
    # sinusoids), query rotated by one position, key of the next token; alpha then puts the mean
    # peak at 16 x sharpness.
    rows = rng.choice(word.shape[0], size=min(256, word.shape[0]), replace=False)
    m = min(512, n) - 1
    x = word[rows, None, :] + pos[None, :m + 1, :] + t["bert.embeddings.token_type_embeddings.weight"][0]
    h = layer_norm(x, cfg.get("layer_norm_eps", 1e-12)) * t["bert.embeddings.LayerNorm.weight"] \
        + t["bert.embeddings.LayerNorm.bias"]
    hp = h[..., :2 * pairs]
    c, sn = np.cos(FREQS), np.sin(FREQS)
    qx = hp[:, :m, 0::2] * c - hp[:, :m, 1::2] * sn          # R(w) applied to each pair
    qy = hp[:, :m, 0::2] * sn + hp[:, :m, 1::2] * c
    k = np.roll(hp, -1, axis=0)[:, 1:]                       # another word, one position on
    peak = float(((qx * k[..., 0::2] + qy * k[..., 1::2]).sum(-1) / np.sqrt(dh)).mean())
    if peak <= 0:
        raise SystemExit("local_attention_init: the position sinusoids do not survive the embedding LayerNorm")
    alpha = np.sqrt(16 * args.sharpness / peak) if args.alpha is None else args.alpha
    for li, spec in enumerate(layers):
        offs = [s.strip() for s in spec.split(",")]
        if len(offs) != heads:
            raise SystemExit(f"local_attention_init: layer {li} names {len(offs)} offsets for {heads} heads")
        pre = f"bert.encoder.layer.{li}.attention.self."
        wq, wk = t[pre + "query.weight"], t[pre + "key.weight"]   # [out, in]
        if args.value_std > 0:
            for name in (pre + "value.weight", f"bert.encoder.layer.{li}.attention.output.dense.weight"):
                t[name][:, :] = rng.normal(0.0, args.value_std, t[name].shape)
        for hi, s in enumerate(offs):
            if s == "*":
                continue
            try:
                s = int(s)
            except ValueError:
                raise SystemExit(f"local_attention_init: layer {li}: {s!r} is not an offset (an integer or '*')")
            rows = slice(hi * dh, (hi + 1) * dh)
            wq[rows, :] = 0
            wk[rows, :] = 0
            t[pre + "query.bias"][rows] = 0
            t[pre + "key.bias"][rows] = 0
            for f, w in enumerate(FREQS):
                c, sn = np.cos(w * s), np.sin(w * s)
                r0, r1 = hi * dh + 2 * f, hi * dh + 2 * f + 1
                wk[r0, 2 * f] = alpha
                wk[r1, 2 * f + 1] = alpha
                # q = R(w s) p_i: (cos(w(i+s)), sin(w(i+s)))
                wq[r0, 2 * f] = alpha * c
                wq[r0, 2 * f + 1] = -alpha * sn
                wq[r1, 2 * f] = alpha * sn
                wq[r1, 2 * f + 1] = alpha * c
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.model):
        src = os.path.join(args.model, f)
        if os.path.isfile(src) and f != "model.safetensors" and not f.startswith(("optimizer", "trainer_state", "rng")):
            shutil.copy(src, os.path.join(args.out, f))
    save(os.path.join(args.out, "model.safetensors"), t, meta)
    print(f"{args.out}: {len(layers)} layer(s) of offset heads, alpha {alpha!r}")


if __name__ == "__main__":
    main()
