"""`stepfun-asr emulator`: run the local StepFun emulator in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "emulator",
        help="run a local fake StepFun ASR service (for trying things out without a key)",
        description="Serve a local emulator of the StepFun ASR API on 127.0.0.1 until Ctrl-C. "
        "Faults can be queued with POST /_emulator/faults "
        '{"fault": NAME, "count": N, ...}; requests are listed at GET '
        "/_emulator/requests.",
    )
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    p.add_argument(
        "--rtf",
        type=float,
        default=0.0,
        help="wall seconds per audio second when streaming (0.01 = 100x real time)",
    )
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="K",
        help="accept this pay-as-you-go key (repeatable; default: generate one)",
    )
    p.add_argument(
        "--plan-key",
        action="append",
        default=[],
        metavar="K",
        help="accept this Step Plan key (repeatable; default: generate one)",
    )
    p.add_argument(
        "--drift",
        action="store_true",
        help="send deltas that differ from the final text (as the service's own docs example)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        metavar="N",
        help="refuse request bodies larger than N bytes (see --body-limit)",
    )
    p.add_argument(
        "--body-limit",
        choices=("413", "reset"),
        default="413",
        help="how a body over --max-body-bytes is refused: a 413 answer, or a reset mid-upload",
    )
    p.add_argument(
        "--uplink-mbit",
        type=float,
        default=None,
        metavar="N",
        help="read request bodies at N Mbit/s, one link shared by all uploads (default: no limit)",
    )
    p.add_argument(
        "--service-speed",
        type=float,
        default=None,
        metavar="X",
        help="answer like a service working at X times real time after a start-up "
        "(--service-startup); 95 with 0.8 s is the seed's headline speed",
    )
    p.add_argument(
        "--service-startup",
        type=float,
        default=0.8,
        metavar="S",
        help="seconds before the first word when --service-speed is given (default 0.8)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import secrets

    from tui.stepfun.emulator import FAULTS, Emulator  # register() stays cheap
    from tui.stepfun.emulator.link import ServiceModel

    if (args.uplink_mbit is not None and args.uplink_mbit <= 0) or (
        args.service_speed is not None and (args.service_speed <= 0 or args.service_startup < 0)
    ):
        print(
            "--uplink-mbit and --service-speed must be above 0 and --service-startup at least 0.",
            file=sys.stderr,
        )
        return 2
    service = ServiceModel(args.service_startup, args.service_speed) if args.service_speed else None

    keys = {k: "normal" for k in args.key or ["emu-" + secrets.token_hex(16)]}
    keys.update({k: "plan" for k in args.plan_key or ["emu-plan-" + secrets.token_hex(16)]})
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        emu = Emulator(
            port=args.port,
            rtf=args.rtf,
            keys=keys,
            drift=args.drift,
            max_body_bytes=args.max_body_bytes,
            body_limit=args.body_limit,
            uplink_mbit=args.uplink_mbit,
            service=service,
        ).start()
    except OSError as exc:
        print(
            f"Cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}. "
            "Pick another port with --port (0 chooses a free one).",
            file=sys.stderr,
        )
        return 1
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # These are the emulator's own throwaway keys, not StepFun keys: printing them is fine.
        print(f"StepFun emulator listening on {emu.base_url}", flush=True)
        print(f"  Step Plan base URL: {emu.plan_base_url}")
        print("Point the CLI at it (pay-as-you-go key):")
        print(
            f"  STEPFUN_BASE_URL={emu.base_url} STEPFUN_API_KEY={emu.demo_key} "
            "stepfun-asr transcribe FILE"
        )
        print("or with the Step Plan key:")
        print(
            f"  STEPFUN_BASE_URL={emu.plan_base_url} STEPFUN_API_KEY={emu.plan_key} "
            "stepfun-asr transcribe FILE"
        )
        print(
            f"Faults: POST {emu.root_url}/_emulator/faults "
            '{"fault": "truncate", "count": 1}  (names: ' + ", ".join(sorted(FAULTS)) + ")"
        )
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Emulator stopped.", flush=True)
    return 0
