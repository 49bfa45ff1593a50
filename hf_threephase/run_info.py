"""What a run records of where and how it ran: package versions, the hardware, the command line, and what the
precision flags do on this machine (for results.json, the model cards and the command's log)."""

import platform
import shlex
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

PACKAGES = ("hf-threephase", "transformers", "torch", "datasets", "accelerate", "peft", "tokenizers",
            "huggingface_hub")
# Flags whose values never reach results.json or logs.
SECRET_FLAGS = ("--hub_token", "--hub-token")


def package_versions() -> dict[str, str]:
    """{package: version} of Python and the packages a run depends on (absent ones left out)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    return versions


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux `/proc/cpuinfo`; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_cpu_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 BF16 or AMX); elsewhere bf16 is emulated and slow."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def hardware(device: torch.device) -> str:
    """The device a run trained on, in words, e.g. "CPU: Intel(R) Xeon(R) Processor, 2 threads, with AVX-512 BF16/AMX" (what
    the CPU has, whatever precision the run used)."""
    if device.type == "cuda":
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(device)}"
    if device.type != "cpu":
        return device.type
    bf16 = "with AVX-512 BF16/AMX" if native_cpu_bf16() else "without AVX-512 BF16/AMX"
    return f"CPU: {cpu_name()}, {torch.get_num_threads()} threads, {bf16}"


def precision_line(training_args) -> str:
    """One line saying what runs on this device under the given precision flags, and what the others would do.

    On a CPU, `--fp16` has no autocast (accelerate enables fp16 only on accelerators): the run is fp32.
    """
    device = training_args.device
    if device.type != "cpu":
        chosen = "bf16 autocast" if training_args.bf16 else "fp16 autocast with loss scaling" if training_args.fp16 \
            else "fp32"
        return f"precision on {device.type}: {chosen} (--bf16 true: bf16 autocast; --fp16 true: fp16 autocast)"
    bf16 = ("bf16 autocast, native on this CPU (measured slower than fp32 on 2 cores: see the README)"
            if native_cpu_bf16() else "bf16 autocast, emulated on this CPU (no AVX-512 BF16/AMX): much slower than fp32")
    if training_args.bf16:
        return f"precision on CPU: {bf16} (--fp16 would be ignored: fp32)"
    if training_args.fp16:
        return f"precision on CPU: fp32 (--fp16 does nothing on a CPU; --bf16 true --use_cpu true: {bf16})"
    return f"precision on CPU: fp32 (--bf16 true --use_cpu true: {bf16}; --fp16 does nothing on a CPU)"


def command_line(argv: list[str], program: str = "hf-threephase") -> str:
    """The command as a shell line, `program` (e.g. `python run_threephase.py`) then `argv`, with the values of secret
    flags (the Hub token) replaced by `REDACTED`."""
    shown, hide = [], False
    for arg in argv:
        name, sep, _ = arg.partition("=")
        if hide:
            shown.append("REDACTED")
        elif sep and name in SECRET_FLAGS:
            shown.append(f"{name}=REDACTED")
        else:
            shown.append(arg)
        hide = arg in SECRET_FLAGS
    return " ".join([program, shlex.join(shown)]) if shown else program
