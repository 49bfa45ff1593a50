"""Pushing each phase folder (model, tokenizer, card) to the Hub with huggingface_hub."""

from pathlib import Path

from huggingface_hub import HfApi, constants
from huggingface_hub.errors import LocalTokenNotFoundError, OfflineModeIsEnabled

from .files import first_line
from .registry import PHASES
from .validation import InputError


def phase_repo_id(hub_model_id: str, phase: str) -> str:
    """The final classifier takes `hub_model_id`; an intermediate phase gets a `-<phase>` suffix."""
    return hub_model_id if PHASES[phase].final else f"{hub_model_id}-{phase}"


def check_hub_access(token: str | None = None, api: HfApi | None = None):
    """`--push_to_hub`: the Hub answers and knows the token (`whoami`), checked before any phase trains; the push
    itself comes after the last phase. (Whether the token may write to `--hub_model_id` shows only then.)

    Raises:
        InputError: offline mode, no token, a token the Hub refuses, or no answer, with huggingface_hub's reason.
    """
    api = api or HfApi(token=token)
    try:
        if constants.HF_HUB_OFFLINE:  # said first: a token would not help
            raise OfflineModeIsEnabled()
        api.whoami()
        return
    except OfflineModeIsEnabled:
        problem = "offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE): unset it"
    except LocalTokenNotFoundError:
        problem = "no token: log in (hf auth login) or pass --hub_token"
    except Exception as err:  # HTTP errors (a refused token: 401), connection errors
        reason = first_line(err)
        status = getattr(getattr(err, "response", None), "status_code", None)
        remedy = "log in again (hf auth login) or pass another --hub_token" if status == 401 else "check the connection"
        problem = f"the Hub did not accept this run's token or could not be reached ({reason}): {remedy}"
    raise InputError(f"--push_to_hub: {problem}; or drop --push_to_hub (nothing was trained)")


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
