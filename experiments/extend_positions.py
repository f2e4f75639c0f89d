#!/usr/bin/env python3
"""Longformer's (and BigBird's) warm start for longer inputs: copy the position embeddings a model
learned for its first N positions over the positions it never trained, N rows at a time.

The demo model is pretrained on 1024-token sequences first (more optimizer steps for the same
tokens), so rows 1024..4095 of `bert.embeddings.position_embeddings.weight` are still their random
initialisation; this tiles rows 0..N-1 over them, and a short second phase at 4096 tokens
(experiments/train_kjv.sh) adapts the model to its full length.

  python3 experiments/extend_positions.py --model IN_DIR --trained 1024 --out OUT_DIR
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

NAME = "bert.embeddings.position_embeddings.weight"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--trained", type=int, required=True, help="positions the model was trained on")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if os.path.abspath(args.model) == os.path.abspath(args.out):
        raise SystemExit("extend_positions: --out must differ from --model")
    with open(os.path.join(args.model, "model.safetensors"), "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    meta = header[NAME]
    if meta["dtype"] != "F32":
        raise SystemExit(f"extend_positions: {NAME} is {meta['dtype']}, expected F32")
    rows, width = meta["shape"]
    a, b = meta["data_offsets"]
    pos = np.frombuffer(bytes(data[a:b]), dtype="<f4").reshape(rows, width).copy()
    if not 0 < args.trained <= rows:
        raise SystemExit(f"extend_positions: --trained {args.trained} is outside 1..{rows}")
    for start in range(args.trained, rows, args.trained):
        m = min(args.trained, rows - start)
        pos[start:start + m] = pos[:m]
    data[a:b] = pos.astype("<f4").tobytes()
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.model):
        src = os.path.join(args.model, f)
        if os.path.isfile(src) and f != "model.safetensors" and not f.startswith(("optimizer", "trainer_state")):
            shutil.copy(src, os.path.join(args.out, f))
    with open(os.path.join(args.out, "model.safetensors.tmp"), "wb") as f:
        f.write(raw[:8 + n])
        f.write(data)
    os.replace(os.path.join(args.out, "model.safetensors.tmp"), os.path.join(args.out, "model.safetensors"))
    print(f"{args.out}: position rows {args.trained}..{rows - 1} copied from rows 0..{args.trained - 1}")


if __name__ == "__main__":
    main()
