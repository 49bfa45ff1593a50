#!/usr/bin/env python
"""The 3-Phase recipe in one command, e.g.

    python run_threephase.py --model_name_or_path roberta-base --dataset_name <dataset> --output_dir out

See `python run_threephase.py --help` and the README.
"""

import sys

from hf_threephase.cli import main

if __name__ == "__main__":
    main(program=f"python {sys.argv[0]}")  # the command results.json records
