#!/bin/sh
# After (or during) a training run: dump the checkpoint, write the GGUF, compare it with PyTorch in llama.cpp,
# and evaluate on the held-out files. Run from the repository root:
#   sh tools/train/finish.sh [ckpt] [out.gguf]
# Outputs: the GGUF, tools/train/work/export/{weights.*,reference.json,check.jsonl},
# tools/train/work/eval-all.json, eval-clean.json, eval-clean-noheal.json and fim-gain.json
set -eu
CKPT=${1:-tools/train/work/run/ckpt.pt}
OUT=${2:-models/moecode-coder.gguf}
W=tools/train/work
PY=/usr/bin/python3
export OMP_NUM_THREADS=1
mkdir -p "$W/export" "$(dirname "$OUT")"
nice -n 10 $PY tools/train/export-weights.py --ckpt "$CKPT" --tok "$W/tokenizer.json" --out "$W/export/weights"
nice -n 10 npx tsx tools/train/export-gguf.ts "$W/export/weights.json" "$OUT"
(cd tools/train && nice -n 10 $PY reference.py --ckpt "../../$CKPT" --tok work/tokenizer.json --out work/export/reference.json)
nice -n 10 npx tsx tools/train/check-llama.ts "$OUT" "$W/export/reference.json" | tee "$W/export/check.jsonl"
if [ "${SKIP_EVAL:-0}" != 1 ]; then
  # all held-out files, and only those sharing <= 30 % of their lines with training files, with token healing at
  # the cursor (as the daemon completes); the clean set also without healing, for comparison. Two at a time.
  (cd tools/train && nice -n 10 $PY eval.py --ckpt "../../$CKPT" --heal --json work/eval-all.json > work/eval-all.log 2>&1) &
  (cd tools/train && nice -n 10 $PY eval.py --ckpt "../../$CKPT" --heal --max-overlap 0.3 --json work/eval-clean.json > work/eval-clean.log 2>&1)
  wait
  (cd tools/train && nice -n 10 $PY eval.py --ckpt "../../$CKPT" --skip-ngram --max-overlap 0.3 --json work/eval-clean-noheal.json > work/eval-clean-noheal.log 2>&1) &
  (cd tools/train && nice -n 10 $PY fim-gain.py "../../$CKPT" > work/fim-gain.json)
  wait
fi
ls -l "$OUT"
