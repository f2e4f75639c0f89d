#!/usr/bin/env python3
"""Writes tests/data/torch/: small PyTorch checkpoints of one micro BigBird model, for
tests/test_torch_checkpoint.cpp. Needs PyTorch (Debian's python3-torch, 1.13) to generate; the
tests themselves read the committed files with no Python.

The micro model is BigBirdForPreTraining shaped like models/tiny-mlm (same tensor names) but
smaller: hidden 16, 2 heads, 1 layer, intermediate 32, vocabulary 128, 128 positions. Every weight
is k/128 (or 1 + k/128 for LayerNorm weights) for a small integer k, so it is exact in float16 and
bfloat16 too: the fp16/bf16 checkpoints hold the very same values as the float32 reference.

  model/config.json, model/model.safetensors   the reference (float32 safetensors)
  zip_f32.bin          torch.save (zip format, PyTorch >= 1.6)
  legacy_f32.bin       torch.save(..., _use_new_zipfile_serialization=False) (format of PyTorch < 1.6)
  zip_f16.bin, zip_bf16.bin, legacy_f16.bin      the same values as float16 / bfloat16 storages
  tied.bin, tied_legacy.bin   tied weights (the decoder shares the word embeddings' storage),
                       storage offsets (LayerNorm weight and bias are slices of one storage) and a
                       non-contiguous view (the pooler weight is a transpose), and an nn.Parameter
  sharded/             pytorch_model.bin.index.json + 2 shards (zip format)
  hostile.bin, hostile_legacy.bin   a state dict with an object whose __reduce__ is
                       os.system("touch /tmp/bigbird_torch_pwned"); must be refused, never run
  hostile_eval.bin     the same with builtins.eval
  truncated.bin        zip_f32.bin cut in the middle

Run: /usr/bin/python3 scripts/make_torch_checkpoints.py [OUT_DIR]
"""
import collections
import json
import os
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data", "torch")

H, I, V, P, T = 16, 32, 128, 128, 2


def tensor_shapes():
    s = collections.OrderedDict()
    e = "bert.embeddings."
    s[e + "position_ids"] = (1, P)
    s[e + "word_embeddings.weight"] = (V, H)
    s[e + "position_embeddings.weight"] = (P, H)
    s[e + "token_type_embeddings.weight"] = (T, H)
    s[e + "LayerNorm.weight"] = (H,)
    s[e + "LayerNorm.bias"] = (H,)
    l = "bert.encoder.layer.0."
    for n in ("query", "key", "value"):
        s[l + f"attention.self.{n}.weight"] = (H, H)
        s[l + f"attention.self.{n}.bias"] = (H,)
    s[l + "attention.output.dense.weight"] = (H, H)
    s[l + "attention.output.dense.bias"] = (H,)
    s[l + "attention.output.LayerNorm.weight"] = (H,)
    s[l + "attention.output.LayerNorm.bias"] = (H,)
    s[l + "intermediate.dense.weight"] = (I, H)
    s[l + "intermediate.dense.bias"] = (I,)
    s[l + "output.dense.weight"] = (H, I)
    s[l + "output.dense.bias"] = (H,)
    s[l + "output.LayerNorm.weight"] = (H,)
    s[l + "output.LayerNorm.bias"] = (H,)
    s["bert.pooler.weight"] = (H, H)
    s["bert.pooler.bias"] = (H,)
    s["cls.predictions.bias"] = (V,)
    s["cls.predictions.transform.dense.weight"] = (H, H)
    s["cls.predictions.transform.dense.bias"] = (H,)
    s["cls.predictions.transform.LayerNorm.weight"] = (H,)
    s["cls.predictions.transform.LayerNorm.bias"] = (H,)
    s["cls.predictions.decoder.weight"] = (V, H)
    s["cls.predictions.decoder.bias"] = (V,)
    s["cls.seq_relationship.weight"] = (2, H)
    s["cls.seq_relationship.bias"] = (2,)
    return s


def make_weights():
    rng = np.random.default_rng(12)
    w = collections.OrderedDict()
    for name, shape in tensor_shapes().items():
        if name.endswith("position_ids"):
            w[name] = np.arange(P, dtype=np.int64).reshape(shape)
        elif "LayerNorm.weight" in name:
            w[name] = (1 + rng.integers(-32, 33, size=shape) / 128).astype(np.float32)
        else:
            w[name] = (rng.integers(-24, 25, size=shape) / 128).astype(np.float32)
    # tied, as HF's BigBirdForPreTraining
    w["cls.predictions.decoder.weight"] = w["bert.embeddings.word_embeddings.weight"]
    w["cls.predictions.decoder.bias"] = w["cls.predictions.bias"]
    return w


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": {np.float32: "F32", np.int64: "I64"}[a.dtype.type], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def state_dict(w, dtype=torch.float32):
    sd = collections.OrderedDict()
    for name, a in w.items():
        t = torch.from_numpy(a.copy())
        sd[name] = t if a.dtype == np.int64 else t.to(dtype)
    return sd


def tied_state_dict(w):
    sd = state_dict(w)
    # one storage for the word embeddings and the decoder, one for the two prediction biases
    sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
    sd["cls.predictions.decoder.bias"] = sd["cls.predictions.bias"]
    # LayerNorm weight and bias: slices (storage offsets 0 and H) of one storage
    for p in ("bert.embeddings.LayerNorm.", "cls.predictions.transform.LayerNorm."):
        both = torch.cat([sd[p + "weight"], sd[p + "bias"]])
        sd[p + "weight"], sd[p + "bias"] = both[:H], both[H:]
    # a non-contiguous view: the transpose of a contiguous tensor
    sd["bert.pooler.weight"] = sd["bert.pooler.weight"].t().contiguous().t()
    assert not sd["bert.pooler.weight"].is_contiguous()
    # an nn.Parameter (pickled through torch._utils._rebuild_parameter)
    sd["cls.seq_relationship.weight"] = torch.nn.Parameter(sd["cls.seq_relationship.weight"])
    return sd


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def main():
    os.makedirs(os.path.join(OUT, "model"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    w = make_weights()
    cfg = json.load(open(os.path.join(ROOT, "models", "tiny-mlm", "config.json")))
    cfg.update(hidden_size=H, intermediate_size=I, num_attention_heads=2, num_hidden_layers=1, vocab_size=V,
               max_position_embeddings=P, block_size=4, num_random_blocks=2, sep_token_id=66)
    with open(os.path.join(OUT, "model", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(OUT, "model", "model.safetensors"), w)

    def out(n):
        return os.path.join(OUT, n)

    torch.save(state_dict(w), out("zip_f32.bin"))
    torch.save(state_dict(w), out("legacy_f32.bin"), _use_new_zipfile_serialization=False)
    torch.save(state_dict(w, torch.float16), out("zip_f16.bin"))
    torch.save(state_dict(w, torch.bfloat16), out("zip_bf16.bin"))
    torch.save(state_dict(w, torch.float16), out("legacy_f16.bin"), _use_new_zipfile_serialization=False)
    torch.save(tied_state_dict(w), out("tied.bin"))
    torch.save(tied_state_dict(w), out("tied_legacy.bin"), _use_new_zipfile_serialization=False)

    names = list(w)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for i, part in enumerate(halves):
        shard = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        sd = state_dict(collections.OrderedDict((n, w[n]) for n in part))
        torch.save(sd, os.path.join(OUT, "sharded", shard))
        for n in part:
            weight_map[n] = shard
            total += w[n].nbytes
    with open(os.path.join(OUT, "sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")

    def hostile(fn, arg):
        sd = collections.OrderedDict()
        sd["bert.embeddings.LayerNorm.weight"] = torch.ones(H)
        sd["evil"] = Evil(fn, arg)
        return sd

    torch.save(hostile(os.system, "touch /tmp/bigbird_torch_pwned"), out("hostile.bin"))
    torch.save(hostile(os.system, "touch /tmp/bigbird_torch_pwned"), out("hostile_legacy.bin"),
               _use_new_zipfile_serialization=False)
    torch.save(hostile(eval, "open('/tmp/bigbird_torch_pwned', 'w')"), out("hostile_eval.bin"))

    data = open(out("zip_f32.bin"), "rb").read()
    open(out("truncated.bin"), "wb").write(data[: len(data) // 2])

    # the committed files must load in PyTorch as written
    for n in ("zip_f32.bin", "legacy_f32.bin", "zip_f16.bin", "zip_bf16.bin", "tied.bin"):
        sd = torch.load(out(n))
        for k, a in w.items():
            assert np.array_equal(sd[k].detach().float().numpy() if a.dtype == np.float32 else sd[k].numpy(), a), (n, k)


if __name__ == "__main__":
    main()
