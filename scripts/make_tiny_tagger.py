#!/usr/bin/env python3
"""Writes models/tiny-tagger: a tiny random BigBirdForTokenClassification checkpoint (HF layout:
config.json + model.safetensors + the tokenizer files of tests/data/tokenizer-hf/bigbird) for the
`bigbird tag` example. The weights are seeded random numbers: the labels it predicts mean nothing.
Needs only numpy. Run from the repository root: python3 scripts/make_tiny_tagger.py
"""
import json
import os
import shutil
import struct

import numpy as np

OUT = "models/tiny-tagger"
TOK = "tests/data/tokenizer-hf/bigbird"
V, H, HEADS, LAYERS, F, MAXPOS = 512, 32, 2, 2, 64, 512
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]

rng = np.random.default_rng(2024)
tensors = {}


def lin(name, out, inp):
    tensors[name + ".weight"] = rng.normal(0, 1 / np.sqrt(inp), (out, inp))
    tensors[name + ".bias"] = rng.normal(0, 0.05, out)


def norm(name, dim):
    tensors[name + ".weight"] = 1 + rng.normal(0, 0.1, dim)
    tensors[name + ".bias"] = rng.normal(0, 0.1, dim)


tensors["bert.embeddings.word_embeddings.weight"] = rng.normal(0, 0.5, (V, H))
tensors["bert.embeddings.position_embeddings.weight"] = rng.normal(0, 0.5, (MAXPOS, H))
tensors["bert.embeddings.token_type_embeddings.weight"] = rng.normal(0, 0.5, (2, H))
norm("bert.embeddings.LayerNorm", H)
for i in range(LAYERS):
    p = "bert.encoder.layer.%d." % i
    for n in ("query", "key", "value"):
        lin(p + "attention.self." + n, H, H)
    lin(p + "attention.output.dense", H, H)
    norm(p + "attention.output.LayerNorm", H)
    lin(p + "intermediate.dense", F, H)
    lin(p + "output.dense", H, F)
    norm(p + "output.LayerNorm", H)
lin("classifier", len(LABELS), H)

os.makedirs(OUT, exist_ok=True)
header, blobs, off = {}, [], 0
for name in sorted(tensors):
    b = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
    off += len(b)
    blobs.append(b)
header["__metadata__"] = {"format": "pt"}
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - (8 + len(h)) % 8) % 8)
with open(os.path.join(OUT, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

config = {
    "architectures": ["BigBirdForTokenClassification"], "model_type": "big_bird", "vocab_size": V, "hidden_size": H,
    "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": F, "hidden_act": "gelu_new",
    "max_position_embeddings": MAXPOS, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "use_bias": True,
    "rescale_embeddings": False, "attention_type": "block_sparse", "block_size": 16, "num_random_blocks": 1,
    "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, "sep_token_id": 66,
    "id2label": {str(i): l for i, l in enumerate(LABELS)}, "label2id": {l: i for i, l in enumerate(LABELS)},
    "torch_dtype": "float32", "transformers_version": "4.27.1",
}
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
for name in ("spiece.model", "special_tokens_map.json"):
    shutil.copy(os.path.join(TOK, name), os.path.join(OUT, name))
# The fixture tokenizer says model_max_length 1024; this model has MAXPOS positions: truncation
# (HF's token-classification pipeline truncates to model_max_length) must cut to those.
with open(os.path.join(TOK, "tokenizer_config.json")) as f:
    tok_config = json.load(f)
tok_config["model_max_length"] = MAXPOS
with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
    json.dump(tok_config, f, indent=2)
    f.write("\n")
print("wrote", OUT)
