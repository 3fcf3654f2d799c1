"""`aikings-comfy-try [URL]`: run one workflow against a ComfyUI server and save its outputs.

Prints the progress events and the files written.
The default URL is the simulated ComfyUI that `python -m sim` (and `make run`) serves.
The prompt passes the studio's content screen first (explicit mode, the stricter): a refusal
prints the same message, leaves the same `policy.refused` audit row in the configured
database and exits with status 2, before anything is sent to ComfyUI.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from core import safety
from core.clock import SystemClock
from core.comfy.client import ComfyClient
from core.comfy.events import Event, Executed, Progress, Success
from core.comfy.health import check
from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, build_graph
from core.config import get_settings
from core.db import make_engine
from core.errors import CoreError, PolicyRefusal
from core.refusals import audited_refusals

ACTOR, TARGET = "cli", "cli.comfy.try"


def screen(prompt: str) -> None:
    """Refuse `prompt` as the studio would (PolicyRefusal), audited in the app's database."""
    engine = make_engine(get_settings().database_url)
    clock = SystemClock()
    try:
        with audited_refusals(engine, actor=ACTOR, target=TARGET, clock=clock):
            safety.screen_prompt(prompt, nsfw=True, year=clock.now().year)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the workflow; 0 on success, 1 when ComfyUI refused or failed it, 2 for a prompt
    the content policy refuses."""
    parser = argparse.ArgumentParser(prog="aikings-comfy-try")
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8188")
    parser.add_argument("--prompt", default="a lighthouse at dusk, oil painting")
    parser.add_argument("--kind", choices=["image", "video"], default="image")
    parser.add_argument("--preset", default="low")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--out", type=Path, default=Path("comfy-try"))
    args = parser.parse_args(argv)
    write = (out or sys.stdout).write
    try:
        screen(args.prompt)
    except PolicyRefusal as exc:
        write(f"refused: {exc}\n")
        return 2
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
