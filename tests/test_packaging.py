import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_model_card_template(tmp_path):
    """A non-editable install renders cards too: the top-level model_cards/ goes in as `hf_threephase.model_cards`."""
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy(ROOT / name, source)
    for folder in ("hf_threephase", "model_cards"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("hf_threephase-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hf_threephase/model_cards/phase_card.md" in names
    assert "hf_threephase/modeling_threephase.py" in names


def test_the_console_script_exits_0_after_a_run(monkeypatch):
    # setup.cfg's hf-threephase: its wrapper does sys.exit(console_main()); main returns the results dict
    import configparser

    from hf_threephase import cli

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    assert "hf-threephase = hf_threephase.cli:console_main" in config["options.entry_points"]["console_scripts"]
    monkeypatch.setattr(cli, "main", lambda: {"test": {"accuracy": 1.0}})
    with pytest.raises(SystemExit) as stop:
        sys.exit(cli.console_main())
    assert stop.value.code == 0
