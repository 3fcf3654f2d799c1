"""`aikings-comfy-try [URL]`: run one workflow against a ComfyUI server and save its outputs.

Prints the progress events and the files written.
The default URL is the simulated ComfyUI that `python -m sim` (and `make run`) serves.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from core.comfy.client import ComfyClient
from core.comfy.events import Event, Executed, Progress, Success
from core.comfy.health import check
from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, build_graph
from core.errors import CoreError


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the workflow; 0 on success, 1 when ComfyUI refused or failed it."""
    parser = argparse.ArgumentParser(prog="aikings-comfy-try")
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8188")
    parser.add_argument("--prompt", default="a lighthouse at dusk, oil painting")
    parser.add_argument("--kind", choices=["image", "video"], default="image")
    parser.add_argument("--preset", default="low")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--out", type=Path, default=Path("comfy-try"))
    args = parser.parse_args(argv)
    write = (out or sys.stdout).write
    presets = Presets.load()
    reason = check(args.url, presets.required_models())
    write(f"health: {reason or 'ok'}\n")
    request = GenerationRequest(
        positive=args.prompt,
        negative=presets.default_negative,
        model=presets.default_model(args.kind),
        preset=args.preset,
        seed=args.seed if args.seed is not None else random.randrange(2**32),
        kind=args.kind,
    )

    def show(event: Event) -> None:
        if isinstance(event, Progress):
            write(f"step {event.value}/{event.max}\n")
        elif isinstance(event, Executed | Success):
            write(f"{type(event).__name__.lower()}\n")

    try:
        with ComfyClient(args.url) as client:
            result = client.run(build_graph(request, presets), on_event=show)
            args.out.mkdir(parents=True, exist_ok=True)
            for ref in result.outputs:
                target = args.out / Path(ref.filename).name
                target.write_bytes(client.view(ref))
                write(f"saved {target}\n")
    except CoreError as exc:
        write(f"failed: {exc}\n")
        return 1
    return 0
