"""What a transformers user sees: --help, model cards fit for the Hub, results.json and predictions.jsonl, the
pictures, a phase folder loaded without the package or by sentence-transformers, quiet logs, precision flags."""

import json
import logging
import re
import subprocess
import sys
from collections import Counter
from html import unescape as html_unescape
from importlib.metadata import version
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from transformers import AutoTokenizer, TrainingArguments

from hf_threephase import PHASES, VARIANTS, ThreePhaseArguments, ThreePhaseModel
from hf_threephase.arguments import LOGGING_SHARE, phase_training_args
from hf_threephase.cards import CardArguments, card_facts, render_card
from hf_threephase.cli import build_parser, main, parse_args
from hf_threephase.logs import InfoLevel
from hf_threephase.plots import plot_confusion, plot_embeddings, plot_losses
from hf_threephase.run_info import command_line, precision_line
from test_run_threephase import FAST, data_flags

TEXTS = ["will it rain in paris tomorrow", "play some jazz music please", "book a table for two people"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, bert_dir, files):
    """One 3phase run (license and language given, a Hub token that must not leak); the figures it saved, by file
    name."""
    out = tmp_path_factory.mktemp("reports") / "tickets"
    figures = {}
    save = matplotlib.figure.Figure.savefig

    def keep(figure, path, *args, **kwargs):
        figures[f"{Path(path).parent.name}/{Path(path).name}"] = figure
        return save(figure, path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.figure.Figure, "savefig", keep)
        results = main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", str(out),
                        "--license", "apache-2.0", "--language", "en", "--hub_token", "hf_secret", *FAST])
    return out, results, figures


def _group_of(help_text: str, flag: str) -> str:
    """The title of the --help group that lists `flag`."""
    title = None
    for line in help_text.splitlines():
        if line and not line.startswith(" "):
            title = line
        elif line.strip().startswith(f"{flag} ") or line.strip() == flag:
            return title
    raise AssertionError(f"{flag} not in --help")


def test_help_groups_every_project_flag_with_a_help_text_and_its_default(capsys):
    parser = build_parser()
    formatter = parser._get_formatter()
    ours = [a for a in parser._actions if a.container.title and not a.container.title.startswith("Training (")
            and a.option_strings and a.dest != "help"]
    assert len(ours) > 40
    for action in ours:
        shown = formatter._get_help_string(action)
        assert action.help and len(action.help) > 10, action.option_strings
        assert "(required)" in shown or "default" in shown.lower(), (action.option_strings, shown)
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage: ") and len(text.split("\n\n")[0].splitlines()) <= 3  # a short usage
    assert "The 3-Phase fine-tuning recipe" in text
    groups = [_group_of(text, flag) for flag in ("--model_name_or_path", "--test_file", "--noise_ratio",
                                                 "--dae_learning_rate", "--ft_learning_rate", "--lora_r",
                                                 "--language", "--output_dir", "--learning_rate")]
    assert [g.split()[0] for g in groups] == ["Model:", "Data", "3-Phase", "Denoising", "Fine-tuning", "LoRA",
                                             "Model", "Training", "Training"]
    assert text.index(groups[0]) < text.index(groups[1]) < text.index(groups[2]) < text.index(groups[3])
    assert text.index(groups[5]) < text.index(groups[6]) < text.index(groups[7])
    block = " ".join(text.split())
    assert "3-Phase phase folder, local or on the Hub. (required)" in block
    assert "a rerun resumes there. (required)" in block
    assert "Required, unless --dataset_name has a test split." in block
    variant_help = block.split("--variant VARIANT")[1].split("--max_seq_length")[0]
    assert all(name in variant_help for name in VARIANTS)
    assert "{mean,cls}" in block and "(default: mean)" in block
    # Trainer flags whose meaning differs here say what they do here; run_glue's refused switches are not offered
    logging_help = block.split("--logging_steps LOGGING_STEPS")[1].split("--logging_first_step")[0]
    assert "(the default: every 2 % of each phase's steps). (default: 0.02)" in logging_help
    eval_help = block.split("--eval_strategy")[1][:300]
    assert "Not used: each phase with a validation metric" in eval_help and "(default: no)" not in eval_help
    assert "--do_train" not in block and "--do_predict" not in block and "--load_best_model_at_end" not in block
    assert "Phases with their own default (dae 0.5, cl 0.333, joint 0.333 of their steps)" in block


def test_output_dir_is_required_and_run_glue_switches_are_refused(bert_dir, files, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(bert_dir), *data_flags(files)])
    assert stop.value.code == 2 and "the following arguments are required: --output_dir" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["--model_name_or_path", str(bert_dir), *data_flags(files), "--output_dir", "x", "--do_train",
              "--do_predict"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err.startswith("error: --do_predict does not apply") and "drop --do_predict, --do_train" in err
    assert not Path("x").exists()


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_cards_hold_the_hub_metadata_and_no_local_path(run, bert_dir, files):
    out, results, _ = run
    for phase in VARIANTS["3phase"].phases:
        text = (out / phase / "README.md").read_text()
        data = ModelCard(text).data.to_dict()
        # a local folder and local files: no Hub ids to name in the YAML (the text still names them)
        assert "base_model" not in data and "datasets" not in data and f"`{bert_dir.name}`" in text
        assert data["language"] == "en" and data["license"] == "apache-2.0" and data["library_name"] == "transformers"
        assert data["pipeline_tag"] == PHASES[phase].card.pipeline_tag and data["widget"][0]["text"]
        for local in (str(bert_dir), str(out), str(files["train"].parent), "/tmp"):
            assert local not in text, (phase, local)
        config = json.loads((out / phase / "config.json").read_text())
        assert config["base_model"] == bert_dir.name == config["encoder"]["_name_or_path"]
        assert not [s for s in _strings(config) if s.startswith("/")], phase
        assert "2405.14437" in text and "@misc{" in text and "Wall time of the phase" in text
        assert re.search(r"transformers \d", text) and "| seed | 42 |" in text and "None" not in text
        assert f"tickets/{phase}" in text and "pip install ./hf-threephase" in text and "not on PyPI" in text
        assert f"trained with hf-threephase {version('hf-threephase')} on top of" in text and "trust_remote_code" in text
        if phase == "cl":  # a setting left at auto, with what it drew on these three classes
            assert "| positive_pair_fraction | auto (0.3333) |" in text and "| pairs_per_example | 2 |" in text
        sources = re.findall(r"^\| (train|validation|test) \| (\d+) \| (.+) \|$", text, re.M)
        assert sources == [(s, str(len(files[s].read_text().splitlines())), f"{files[s].parent.name}/{s}.jsonl")
                           for s in ("train", "validation", "test")]
    dae, ft = (out / "dae" / "README.md").read_text(), (out / "ft" / "README.md").read_text()
    assert "| noise_ratio | 0.6 |" in dae and "classifier_dropout" not in dae and "lora_r" not in dae
    # the decoder's fresh parameters train at their own rate: the card says which
    assert "| new_parameters_learning_rate | 0.001 |" in dae and "new_parameters" not in ft
    assert "| classifier_dropout | 0.1 |" in ft and "noise_ratio" not in ft and "| metric_for_best_model |" in ft
    index = ModelCard(ft).data.to_dict()["model-index"][0]["results"][0]
    assert index["dataset"]["split"] == "test"
    assert {m["type"]: m["value"] for m in index["metrics"]} == {
        name: round(results["test"][name], 4) for name in ("accuracy", "f1", "precision", "recall")}
    for name, row in results["test"]["per_class"].items():
        assert f"| {name} | {round(row['precision'], 4)} | {round(row['recall'], 4)} |" in ft
    assert "![test confusion matrix](confusion_matrix.png)" in ft
    assert "`1_Pooling/`, `2_Dense/`;" in dae and "`1_Pooling/`, `2_Dense/`, `3_Dense/`;" in ft  # the DAE has no projection
    assert "model-index" not in ModelCard(dae).data.to_dict()


def test_intermediate_cards_show_diagnostics_before_and_after_when_recorded():
    facts = card_facts(CardArguments(license="mit"), model_name_or_path="none", base_model="b", variant="3phase",
                       phases=["dae", "cl", "ft"], dataset="d", splits=[("train", 3, "d/train.jsonl")],
                       label_names=["a", "b"], examples=["x"], hub_model_id="me/m", output_name="o", hardware="cpu",
                       versions={})
    metrics = {"train": {"train_loss": 2.5}, "validation": {"loss": 6.6, "information_gap": 0.31, "epoch": 1.0},
               "diagnostics": {"before": {"information_gap": 0.01, "cosine_gap": 0.1},
                               "after": {"information_gap": 0.31, "cosine_gap": 0.2}}}
    card = render_card("dae", facts, metrics, {"noise_ratio": 0.6}, embedding_size=8).content
    assert "| information_gap | 0.01 | 0.31 |" in card and "| cosine_gap | 0.1 | 0.2 |" in card
    assert "| loss | 6.6 |" in card and card.count("information_gap") == 1 and "epoch" not in card
    assert 'AutoModel.from_pretrained("me/m-dae")' in card and "Training loss: 2.5" in card
    assert "base_model: b" in card and "datasets" not in card.split("---")[1]  # a Hub name; local data
    named = card_facts(CardArguments(), model_name_or_path="none", base_model="org/base", variant="ft", phases=["ft"],
                       dataset="glue", dataset_id="nyu-mll/glue", splits=[], label_names=["a", "b"], examples=["x"],
                       hub_model_id=None, output_name="runs/o", hardware="cpu", versions={})
    card = render_card("dae", named, metrics, {}, embedding_size=8).content
    assert "base_model: org/base" in card and "- nyu-mll/glue" in card
    assert 'AutoModel.from_pretrained("./runs/o/dae")' in card
    assert "**Warning:**" not in card
    metrics["diagnostics"]["after"]["information_gap"] = 0.02
    assert ("**Warning:** the dae phase ended inert: information_gap 0.0100 -> 0.0200 (rose by 0.0100; it should rise "
            "by at least 0.05).") in render_card("dae", facts, metrics, {}, embedding_size=8).content
    del metrics["diagnostics"]
    assert "| diagnostic |" not in render_card("dae", facts, metrics, {}, embedding_size=8).content


# class names, a data name and a validation text that hold what a markdown table cell or YAML could misread
ODD_NAMES = ["yes|no", "a | b", "x`y", "*bold*", "line\nbreak", "back\\slash", "_em_ [link](u) <b> &amp; ~s~ $x$"]
ODD_DATA = 'my|data: #1 "quoted" \'s\'\nnext'


def _tables(text: str) -> list[list[list[str]]]:
    """The markdown tables of `text`: rows of cells, split as GFM does (at each `|` not after a backslash)."""
    return [[[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in block.splitlines()]
            for block in re.findall(r"(?:^\|.*\|\n)+", text, re.M)]


def _unescaped(cell: str) -> str:
    """A cell's text as shown: GFM's `\\|` first, then CommonMark's backslash escapes."""
    return re.sub(r"\\([!-/:-@[-`{-~])", r"\1", cell.replace("\\|", "|"))


def _odd_card() -> str:
    facts = card_facts(CardArguments(license="mit"), model_name_or_path="none", base_model="b", variant="ft",
                       phases=["ft"], dataset=ODD_DATA, dataset_id=ODD_DATA, label_names=ODD_NAMES,
                       splits=[("train", 3, "a|b/*train*.jsonl"), ("test", 2, "x`y [test]")],
                       examples=[ODD_DATA], hub_model_id=None, output_name="o", hardware="cpu", versions={})
    row = {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 2}
    test = {"accuracy": 0.5, "precision": 0.5, "recall": 0.25, "f1": 1 / 3, "loss": 0.7,
            "per_class": {name: row for name in ODD_NAMES}}
    metrics = {"test": test, "validation": {"loss": 0.6, "f1_yes|no": 0.5}, "train": {"train_loss": 0.9},
               "imbalance_correction": {"multipliers": {"yes|no": 2}, "examples_before": 3, "examples_after": 5}}
    settings = {"stopwords_file": "stop|words\n_*.txt", "lora_target_modules": "query|value", "seed": 42}
    return str(render_card("ft", facts, metrics, settings, embedding_size=8))


# repro: ../shared/repros/model-card-pipe-in-label (sentence-transformers PR #3429)
def test_card_tables_keep_their_columns_for_any_class_name():
    text = _odd_card()
    tables = _tables(text)
    assert len(tables) == 5  # data, test, per class, validation, settings
    for table in tables:
        assert all(len(row) == len(table[0]) for row in table), table
    per_class = next(t for t in tables if t[0][0] == "class")
    assert [_unescaped(row[0]) for row in per_class[2:]] == [name.replace("\n", " ") for name in ODD_NAMES]
    assert per_class[2][1:] == ["0.5", "0.25", "0.3333", "2"]  # numbers as numbers
    data, settings = tables[0], next(t for t in tables if t[0][0] == "setting")
    assert [_unescaped(row[2]) for row in data[2:]] == ["a|b/*train*.jsonl", "x`y [test]"]
    assert [_unescaped(value) for _, value in settings[2:]] == ["stop|words _*.txt", "query|value", "42"]
    assert "| f1_yes\\|no | 0.5 |" in text and "| seed | 42 |" in text
    labels = re.search(r"^Labels \(7, in class-id order\): (.*)\.$", text, re.M).group(1)
    assert [_unescaped(name) for name in labels.split(", ")] == [name.replace("\n", " ") for name in ODD_NAMES]
    assert "up-sampled classes: yes\\|no ×2: 3 → 5 train examples" in text
    markdown_it = pytest.importorskip("markdown_it")  # a CommonMark + GFM tables renderer shows the names as written
    html = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)]
    assert [html_unescape(row[0]) for row in rows if len(row) == 5] == [name.replace("\n", " ") for name in ODD_NAMES]


def test_card_metadata_round_trips_through_huggingface_hub_for_any_name():
    card = ModelCard(_odd_card())
    assert card.data.datasets == [ODD_DATA] and card.data.widget == [{"text": ODD_DATA}]
    assert card.data.model_name == f"b 3-Phase FT (ft, {ODD_DATA})"
    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert name == card.data.model_name and len(results) == 4
    assert {(r.dataset_name, r.dataset_type, r.dataset_split) for r in results} == {(ODD_DATA, ODD_DATA, "test")}
    assert {r.metric_type: r.metric_value for r in card.data.eval_results} == {
        "accuracy": 0.5, "f1": 0.3333, "precision": 0.5, "recall": 0.25}
    per_class = next(t for t in _tables(card.text) if t[0][0] == "class")
    assert [_unescaped(row[0]) for row in per_class[2:]] == [name.replace("\n", " ") for name in ODD_NAMES]


def test_card_tables_of_a_run_keep_their_columns(run):
    out, _, _ = run
    for phase in VARIANTS["3phase"].phases:
        for table in _tables((out / phase / "README.md").read_text()):
            assert all(len(row) == len(table[0]) for row in table), (phase, table)


def test_card_usage_snippets_run(run, monkeypatch, capsys):
    out, _, _ = run
    monkeypatch.chdir(out.parent)
    for phase in ("cl", "ft"):
        code = (out / phase / "README.md").read_text().split("```python\n")[1].split("```")[0]
        assert "truncation=True, max_length=32" in code  # the run's --max_seq_length, so it scores as the run did
        namespace = {}
        exec(code, namespace)  # noqa: S102 - the card's own snippet, on the folder it describes
    assert namespace["classifier"].model.config.phases == ["dae", "cl", "ft"]
    assert "'label': " in capsys.readouterr().out


def test_results_name_labels_and_macro_and_predictions_match_the_confusion_matrix(run, files):
    out, results, _ = run
    saved = (out / "results.json").read_text()
    assert "hf_secret" not in saved and "--hub_token REDACTED" in results["command"]
    assert results["label_names"] == results["test"]["label_names"] == ["food", "music", "weather"]
    assert results["test"]["average"] == "macro" and set(results["wall_s"]) == {"dae", "cl", "ft"}
    assert all(s > 0 for s in results["wall_s"].values()) and results["versions"]["transformers"]
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    names = results["label_names"]
    counts = Counter((row["gold"], row["predicted"]) for row in rows)
    assert [[counts[(g, p)] for p in names] for g in names] == results["test"]["confusion_matrix"]
    test_texts = [json.loads(line)["sentence"] for line in files["test"].read_text().splitlines()]
    assert [row["text"] for row in rows] == test_texts
    for row in rows:
        assert sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        assert max(row["probabilities"], key=row["probabilities"].get) == row["predicted"]
    assert results["test"]["accuracy"] == pytest.approx(np.mean([r["gold"] == r["predicted"] for r in rows]))


def test_embedding_figure_has_a_panel_per_phase_on_shared_axes(run):
    out, _, figures = run
    figure = figures[f"{out.name}/embeddings.png"]
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title().split(" (")[0] for ax in panels] == ["base model", "dae", "cl", "ft"]
    assert len({ax.get_xlim() for ax in panels}) == 1 and len({ax.get_ylim() for ax in panels}) == 1
    assert "PCA fitted on the base model's vectors" in figure._suptitle.get_text()
    phase_map = figures[".ft.tmp/embeddings.png"]  # written beside the folder, then renamed
    assert "PCA fitted on the base model" in phase_map.axes[0].get_title()
    for phase in ("dae", "cl", "ft"):
        assert np.load(out / phase / "embeddings.npy").shape == (24, 32)


def test_loss_curve_has_every_logged_point_and_one_per_evaluation(tmp_path):
    history = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 1.5},
               {"step": 3, "eval_loss": 1.8}, {"step": 3, "eval_loss": 1.8}]  # the runner evaluates again at the end
    figures = []
    with pytest.MonkeyPatch.context() as patch:
        save = matplotlib.figure.Figure.savefig
        patch.setattr(matplotlib.figure.Figure, "savefig", lambda f, p, **k: figures.append(f) or save(f, p, **k))
        plot_losses(history, tmp_path / "loss.png", "loss")
    lines = figures[0].axes[0].get_lines()
    assert [list(line.get_xdata()) for line in lines] == [[1, 2, 3], [3]]
    assert all(line.get_marker() not in (None, "None", "") for line in lines)


@pytest.mark.parametrize("phase", ["dae", "cl"])
def test_sentence_transformers_gives_the_phase_embedding(run, phase):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    out, _, _ = run
    folder = out / phase
    model = ThreePhaseModel.from_pretrained(folder).eval()
    with torch.no_grad():
        expected = model(**AutoTokenizer.from_pretrained(folder)(TEXTS, padding=True, return_tensors="pt"))
    got = sentence_transformers.SentenceTransformer(str(folder), device="cpu").encode(TEXTS, convert_to_tensor=True)
    torch.testing.assert_close(got, expected.sentence_embedding, rtol=1e-4, atol=1e-5)


def test_a_phase_folder_loads_without_the_package(run):
    out, _, _ = run
    load = ("import sys; from transformers import pipeline; "
            f"p = pipeline('text-classification', model={str(out / 'ft')!r}, trust_remote_code=True); "
            f"print(p({TEXTS[0]!r})[0]['label'], 'hf_threephase' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, cwd=out.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    label, imported = done.stdout.split()
    assert label in {"food", "music", "weather"} and imported == "False"


def test_by_design_notices_are_info_and_phases_log_often_and_pin_nothing_on_cpu(tmp_path):
    logger = logging.getLogger("test_reports.notices")
    record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "The tokenizer has new PAD/BOS/EOS tokens "
                               "that differ", (), None)
    demote = InfoLevel(logger, ("The tokenizer has new PAD/BOS/EOS tokens",))
    logger.setLevel(logging.WARNING)
    assert demote.filter(record) is False and record.levelname == "INFO"
    logger.setLevel(logging.INFO)
    assert demote.filter(record) is True
    other = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "something else", (), None)
    assert demote.filter(other) is True and other.levelno == logging.WARNING

    args = ThreePhaseArguments()
    default = phase_training_args(PHASES["cl"], args, TrainingArguments(output_dir=str(tmp_path)), tmp_path)
    assert default.logging_steps == LOGGING_SHARE and default.dataloader_pin_memory is False
    given = phase_training_args(PHASES["cl"], args, TrainingArguments(output_dir=str(tmp_path), logging_steps=7),
                                tmp_path)
    assert given.logging_steps == 7
    # the command line's default is the share, so a --logging_steps 500 given there is kept
    cli_args = parse_args(["--model_name_or_path", "m", "--train_file", "t.csv", "--output_dir", str(tmp_path)])[3]
    assert phase_training_args(PHASES["cl"], args, cli_args, tmp_path).logging_steps == LOGGING_SHARE
    cli_500 = parse_args(["--model_name_or_path", "m", "--train_file", "t.csv", "--output_dir", str(tmp_path),
                          "--logging_steps", "500"])[3]
    assert phase_training_args(PHASES["cl"], args, cli_500, tmp_path).logging_steps == 500


def test_precision_line_says_what_each_flag_does_on_a_cpu(tmp_path):
    fp16 = precision_line(TrainingArguments(output_dir=str(tmp_path), use_cpu=True, fp16=True))
    assert fp16.startswith("precision on CPU: fp32 (--fp16 does nothing on a CPU; --bf16 true --use_cpu true: bf16 "
                           "autocast")
    bf16 = precision_line(TrainingArguments(output_dir=str(tmp_path), use_cpu=True, bf16=True))
    assert bf16.startswith("precision on CPU: bf16 autocast")
    assert command_line(["--hub_token", "hf_x", "--hub_token=hf_y", "--seed", "1"]) == \
        "hf-threephase --hub_token REDACTED --hub_token=REDACTED --seed 1"
    assert command_line(["--output_dir", "my runs"], "python run_threephase.py") == \
        "python run_threephase.py --output_dir 'my runs'"


def test_cards_inherit_language_and_license_from_the_base_model_card(tmp_path):
    (tmp_path / "README.md").write_text("---\nlanguage: de\nlicense: mit\n---\n# base\n")
    facts = dict(model_name_or_path=str(tmp_path), base_model="b", variant="ft", phases=["ft"], dataset="d",
                 splits=[], label_names=["a", "b"], examples=[], hub_model_id=None, output_name="o", hardware="cpu",
                 versions={})
    inherited = card_facts(None, **facts)
    assert (inherited.language, inherited.license) == ("de", "mit")
    (tmp_path / "README.md").unlink()
    bare = card_facts(None, **facts)
    assert (bare.language, bare.license) == (None, "other")


def test_pictures_draw_any_class_name_as_written(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from hf_threephase import plots

    names = ["$\\foo$", "_other", "a $ b"]  # math markup that does not parse; a name matplotlib's legend would hide
    plot_confusion([[1, 0, 0], [0, 1, 0], [0, 0, 1]], names, tmp_path / "confusion.png", "test")
    legends, close = [], plt.close
    monkeypatch.setattr(plots.plt, "close", lambda fig: (legends.append(
        [t.get_text() for t in fig.axes[0].get_legend().get_texts()]), close(fig)))
    plot_embeddings(np.arange(12.0).reshape(6, 2), np.array([0, 0, 1, 1, 2, 2]), names, tmp_path / "e.png", "t")
    assert legends == [["\\$\\foo\\$", " _other", "a \\$ b"]]  # every class in the legend, drawn as written
    assert (tmp_path / "confusion.png").stat().st_size > 0 and (tmp_path / "e.png").stat().st_size > 0
