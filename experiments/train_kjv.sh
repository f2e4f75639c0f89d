#!/usr/bin/env bash
# Rebuilds models/kjv-mlm, the demo model: a BigBird MLM (4 layers, hidden 256, 4 heads, vocab 8000,
# 4096 positions, block 64, r 3) pretrained here on the King James Bible from Debian's packages.
#
#   bash experiments/train_kjv.sh [WORK_DIR (default data/kjv)] [THREADS (default 0: all cores)]
#
# 1. the corpus (experiments/make_corpus_kjv.py): chapters as documents, every 20th held out;
# 2. its own SentencePiece unigram vocabulary (Debian's `sentencepiece`: spm_train), with BigBird's
#    special pieces at the ids config.json names (<pad> 0, </s> 1, <s> 2, <unk> 3, [CLS] 4, [SEP] 5,
#    [MASK] 6);
# 3. phase 1: MLM on 1024-token sequences, PHASE1_STEPS (default 6000, about 7 passes over the
#    corpus) steps of one sequence, learning rate 1e-3 after 300 warmup steps, decaying linearly.
#    It starts from experiments/local_attention_init.py's checkpoint, not from the plain random
#    initialisation: the first two layers' heads attend to offsets -1, +1, -2, +2 and -1, +1, -3, +3
#    from the first step (position sinusoids + rotated query weights; every weight stays trainable).
#    From the plain initialisation, 2000 steps at 5e-4 and then 7000 steps at 1e-3 (65 minutes on
#    one core; log: experiments/results/kjv_phase1_session8.log) stayed on the unigram plateau;
#    this start left it within 500 steps (log: experiments/results/kjv_phase1.log, 6000 steps in 63 min);
# 4. the learned position rows 0..1023 copied over 1024..4095 (experiments/extend_positions.py);
# 5. phase 2: PHASE2_STEPS (default 400) steps on 4096-token sequences, so the model meets its whole
#    length and learns positions 1024..4095 (60 steps left it worse at 2048-4096 tokens than at 1024);
# 6. the result copied into models/kjv-mlm (model, config, tokenizer files).
# Logs: WORK_DIR/phase1.log, WORK_DIR/phase2.log (JSON lines, as `bigbird train` writes them).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-data/kjv}
THREADS=${2:-0}
BB=${BIGBIRD:-build/bigbird}
PY=${PYTHON:-python3}
"$PY" -c "import numpy" 2>/dev/null || PY=/usr/bin/python3  # extend_positions.py needs numpy (Debian: python3-numpy)
command -v spm_train >/dev/null || { [ "$(id -u)" -eq 0 ] && S= || S=sudo; DEBIAN_FRONTEND=noninteractive $S apt-get install -y -qq --no-install-recommends sentencepiece; }
$PY experiments/make_corpus_kjv.py --out "$W"
mkdir -p "$W/tok"
spm_train --input="$W/train.txt" --model_prefix="$W/tok/spiece" --vocab_size=8000 --model_type=unigram \
    --pad_id=0 --eos_id=1 --bos_id=2 --unk_id=3 --user_defined_symbols="[CLS],[SEP],[MASK]" \
    --character_coverage=1.0 --num_threads=1 --minloglevel=2
cp experiments/kjv_tokenizer_config/*.json "$W/tok/"
COMMON=(--tokenizer "$W/tok" --train-file "$W/train.txt" --validation-file "$W/valid.txt" --weight-decay 0.01
        --threads "$THREADS" --seed 42 --no-progress)
# the random initialisation (one step at learning rate 0 changes nothing), then the offset heads;
# --alpha is the query/key scale the shipped model started from (the script's first rule, from the
# sinusoids' mean square after the embedding LayerNorm; its default now measures the peak logit)
$BB train --config experiments/kjv_mlm_config.json --tokenizer "$W/tok" --train-file "$W/valid.txt" --max-seq-length 1024 \
    --per-device-train-batch-size 1 --max-steps 1 --learning-rate 0 --threads "$THREADS" --seed 42 --no-progress \
    --save-steps 0 --output-dir "$W/init" >/dev/null
$PY experiments/local_attention_init.py --model "$W/init" --out "$W/init-local" --value-std 0.0625 --alpha 1.0155716442177798 \
    --offsets="-1,1,-2,2;-1,1,-3,3"
$BB train --model "$W/init-local" "${COMMON[@]}" --max-seq-length 1024 \
    --per-device-train-batch-size 1 --max-steps "${PHASE1_STEPS:-6000}" --learning-rate 1e-3 --warmup-steps 300 \
    --logging-steps 50 --eval-steps 500 --save-steps 500 --output-dir "$W/phase1" 2>&1 | tee "$W/phase1.log"
$PY experiments/extend_positions.py --model "$W/phase1" --trained 1024 --out "$W/phase1-4096"
$BB train --model "$W/phase1-4096" "${COMMON[@]}" --max-seq-length 4096 --per-device-train-batch-size 1 \
    --max-steps "${PHASE2_STEPS:-400}" --learning-rate 1e-4 --warmup-steps 0 --logging-steps 20 --eval-steps 200 --save-steps 0 \
    --output-dir "$W/phase2" 2>&1 | tee "$W/phase2.log"
mkdir -p models/kjv-mlm
for f in config.json model.safetensors; do cp "$W/phase2/$f" models/kjv-mlm/; done
cp "$W/tok/spiece.model" "$W/tok/tokenizer_config.json" "$W/tok/special_tokens_map.json" models/kjv-mlm/
echo "models/kjv-mlm: done"
