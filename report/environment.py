"""What the report says about where it ran: versions and hardware."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def versions() -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for pkg in ("perplex", "numpy", "scipy", "torch", "gensim", "nltk", "scikit-learn", "matplotlib", "kenlm"):
        try:
            out.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            pass
    return out


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    memory = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * size / 2**30:.0f} GiB memory"
    except (ValueError, OSError, AttributeError):
        pass
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores{memory}{gpu} ({platform.system()} {platform.release()})"
