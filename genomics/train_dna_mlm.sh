#!/usr/bin/env bash
# Rebuilds models/dna-mlm, the genomics default: a small DNA BigBird MLM (4 layers, hidden 128,
# 4 heads, 512 positions, block 32, 2 random blocks, one token per base) pretrained here on the
# E. coli 536 genome (bowtie-examples), held-out region excluded.
#
#   bash genomics/train_dna_mlm.sh [WORK_DIR (default data/dna)] [THREADS (default 1)]
#
# 1. the data sets (genomics/make_datasets.py) when missing;
# 2. the tokenizer: `bigbird tokenizer-train --type per-base` (5 special tokens + 15 IUPAC codes);
# 3. the training genome cut into 2,000-base JSONL lines ({"text": ...}), which `train` tokenizes
#    and packs into 512-token sequences (HF run_mlm's group_texts), the held-out genome likewise;
# 4. MLM from scratch: 6000 steps of 8 sequences (about 5.5 passes over 4.4 Mbp), AdamW at 1e-3
#    after 300 warmup steps, linear decay, weight decay 0.01, 15% masking (80/10/10), seed 42;
#    the held-out loss every 1000 steps. 75 minutes on one core of an AMD EPYC (Zen 4).
# 5. the result copied into models/dna-mlm (model, config, tokenizer files).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-data/dna}
THREADS=${2:-1}
BB=${BIGBIRD:-build/bigbird}
PY=${PYTHON:-python3}
"$PY" -c "import numpy" 2>/dev/null || PY=/usr/bin/python3
[ -f data/genomics/ecoli_train.fa ] || "$PY" genomics/make_datasets.py --out data/genomics
mkdir -p "$W"
$BB tokenizer-train --type per-base --model-max-length 512 --output-dir "$W/tok"
"$PY" - "$W" <<'PY'
import json, sys
w = sys.argv[1]
for name in ("train", "heldout"):
    seq = "".join(l.strip() for l in open(f"data/genomics/ecoli_{name}.fa") if not l.startswith(">"))
    with open(f"{w}/{name}.jsonl", "w") as f:
        for i in range(0, len(seq), 2000):
            f.write(json.dumps({"text": seq[i:i + 2000]}) + "\n")
PY
$BB train --config genomics/dna_mlm_config.json --tokenizer "$W/tok" --train-file "$W/train.jsonl" \
    --validation-file "$W/heldout.jsonl" --max-seq-length 512 --per-device-train-batch-size 8 --max-steps 6000 \
    --warmup-steps 300 --logging-steps 100 --eval-steps 1000 --save-steps 1000 --learning-rate 1e-3 \
    --weight-decay 0.01 --seed 42 --threads "$THREADS" --no-progress --output-dir "$W/mlm" 2>&1 | tee "$W/train.log"
mkdir -p models/dna-mlm
cp "$W/mlm/config.json" "$W/mlm/model.safetensors" "$W/tok/"*.json models/dna-mlm/
echo "models/dna-mlm updated"
