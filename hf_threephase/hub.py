"""Pushing each phase folder (model, tokenizer, card) to the Hub with huggingface_hub."""

from pathlib import Path

from huggingface_hub import HfApi

from .registry import PHASES
from .validation import InputError


def phase_repo_id(hub_model_id: str, phase: str) -> str:
    """The final classifier takes `hub_model_id`; an intermediate phase gets a `-<phase>` suffix."""
    return hub_model_id if PHASES[phase].final else f"{hub_model_id}-{phase}"


def check_hub_access(token: str | None = None, api: HfApi | None = None):
    """`--push_to_hub`: the Hub answers and knows the token (`whoami`), checked before any phase trains; the push
    itself comes after the last phase.

    Raises:
        InputError: it does not (offline, no token, a refused token), with huggingface_hub's reason.
    """
    api = api or HfApi(token=token)
    try:
        api.whoami()
    except Exception as err:  # offline mode, connection errors, no or a bad token: each its own class
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"--push_to_hub: the Hub cannot be reached with this token ({reason}); nothing was trained: "
                         "log in (hf auth login) or pass --hub_token, or drop --push_to_hub") from None


def push_phases(output_dir: Path, phases: list[str], hub_model_id: str, token: str | None = None,
                private: bool | None = None, api: HfApi | None = None) -> list[str]:
    """Create each phase's repo and upload its folder; returns the repo ids."""
    api = api or HfApi(token=token)
    repos = []
    for phase in phases:
        repo_id = phase_repo_id(hub_model_id, phase)
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(output_dir / phase),
                          commit_message=f"hf-threephase: {phase} phase")
        repos.append(repo_id)
    return repos
