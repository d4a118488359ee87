# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Serves the ADH-ViT app on a model: upload a video, watch both hands' timelines follow the playback.

    %(prog)s --model DIR_OR_REPO_ID [--host H] [--port P] [--stride S]

Open the printed address in a browser. The video is analysed with adhvit-extract's windows (num_frames frames every
sampling_rate, one window every --stride frames) and the results stream in as they are computed; the segments, the
timeline picture and the per-frame features can be downloaded. Nothing leaves the machine (analytics are off) and the
files of a session are removed when it ends; `api_name="analyse"` answers the segments as JSON (gradio_client).
"""

import argparse
import logging
import os
import signal
import sys
import tempfile

from adhvit_hf.data.decoding import BACKENDS
from adhvit_hf.utils import HelpFormatter, UserInputError, configure_logging, positive_int, run_cli

from ..precision import PRECISION_HELP, PRECISIONS
from .analysis import load_app_model


logger = logging.getLogger(__name__)


def port_number(text: str) -> int:
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (1 to 65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adhvit-app", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a saved model folder or a Hub repo id (owner/name)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=port_number, default=7860, help="TCP port to serve on")
    parser.add_argument(
        "--stride",
        type=positive_int,
        default=None,
        help="frames between window starts (default: half a window's span, 32 for 16 frames every 4)",
    )
    parser.add_argument(
        "--batch_size",
        type=positive_int,
        default=None,
        help="windows per forward pass (default: 2 on a CPU, 8 on a GPU)",
    )
    parser.add_argument(
        "--device", default=None, help="torch device: cpu, cuda, cuda:N or mps (default: GPU 0 if any, else cpu)"
    )
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="video decoder")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help=PRECISION_HELP,
    )
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO)
    app = load_app_model(args.model, args.stride, args.device, args.backend, args.precision, args.batch_size)
    logger.info(
        "%s: windows of %d frames every %d, one every %d frames, %d per batch, %s on %s%s",
        args.model,
        app.processor.num_frames,
        app.processor.sampling_rate,
        app.stride,
        app.batch_size,
        "bf16 autocast" if app.bf16 else "fp32",
        app.model.device,
        " (auto: this machine has bf16 instructions)" if app.bf16 and args.precision == "auto" else "",
    )
    from .page import build_app

    # A stop by SIGTERM (a service manager, a Space restarting) ends like Ctrl-C, so the folder below is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    # Uploads and results live in a folder of this process's own, gone when it stops.
    with tempfile.TemporaryDirectory(prefix="adhvit-app-") as cache:
        os.environ["GRADIO_TEMP_DIR"] = cache
        demo = build_app(app)
        demo.queue(default_concurrency_limit=1)
        try:
            demo.launch(server_name=args.host, server_port=args.port, share=False, show_error=False)
        except OSError as error:
            raise UserInputError(f"--host {args.host} --port {args.port}: cannot serve there ({error})") from None
        finally:
            demo.close()
    return 0


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()
