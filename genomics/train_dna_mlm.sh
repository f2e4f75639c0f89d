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
# 4. MLM pretraining: 4000 steps of 8 sequences (about 3.7 passes over 4.4 Mbp), AdamW at 1e-3
#    after 100 warmup steps, linear decay, weight decay 0.01, 15% masking (80/10/10), no dropout,
#    seed 42; the held-out loss every 500 steps. It starts from experiments/local_attention_init.py's
#    checkpoint: layers 0-2's heads attend to offsets -1, +1, -2, +2 / -3, +3, -4, +4 / -6, +6, -8, +8
#    from the first step (every weight stays trainable). From the plain random initialisation the
#    same model sat on the unigram plateau for 6000 steps (75 minutes; 1.996 bits per base).
#    52 minutes on one core of an AMD EPYC (Zen 4), shared at times with a compiler.
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
# the random initialisation (one step at learning rate 0 changes nothing), then the offset heads;
# --alpha is the query/key scale the shipped model started from (the script's first rule, from the
# sinusoids' mean square after the embedding LayerNorm; its default now measures the peak logit)
$BB train --config genomics/dna_mlm_config.json --tokenizer "$W/tok" --train-file "$W/heldout.jsonl" \
    --max-seq-length 512 --max-steps 1 --learning-rate 0 --seed 42 --threads "$THREADS" --no-progress \
    --save-steps 0 --output-dir "$W/init" >/dev/null 2>&1
"$PY" experiments/local_attention_init.py --model "$W/init" --out "$W/init-local" --value-std 0.088 --alpha 0.932013328526183 \
    --offsets="-1,1,-2,2;-3,3,-4,4;-6,6,-8,8"
$BB train --model "$W/init-local" --tokenizer "$W/tok" --train-file "$W/train.jsonl" \
    --validation-file "$W/heldout.jsonl" --max-seq-length 512 --per-device-train-batch-size 8 --max-steps 4000 \
    --warmup-steps 100 --logging-steps 100 --eval-steps 500 --save-steps 1000 --learning-rate 1e-3 \
    --weight-decay 0.01 --seed 42 --threads "$THREADS" --no-progress --output-dir "$W/mlm" 2>&1 | tee "$W/train.log"
mkdir -p models/dna-mlm
cp "$W/mlm/config.json" "$W/mlm/model.safetensors" "$W/tok/"*.json models/dna-mlm/
echo "models/dna-mlm updated"
