"""The ``specbench`` command: use a benchmarked model (logic in specbench.cli.classify, specbench.evaluation.runs).

    specbench --version
    specbench info RUN [--json]
    specbench classify RUN SPECTRA [SPECTRA ...] -o OUT.csv [--top-k K] [--grid START,STOP]
                       [--backend NAME] [--threads N]
    specbench check-model ARCHITECTURE|FILE.py:FUNCTION|module:FUNCTION [--points N]
                          [--classes C] [--hp key=value ...] [--architecture-scale S]
                          [--batch-size B] [--json]
    (before any command: --verbose shows the frameworks' own log lines)

User mistakes (a bad file, argument or run) end with one line ``specbench: error: ...`` on stderr
and exit status 1 (2 for bad command-line syntax, as argparse does); never with a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from specbench import __version__
from specbench.core.formats import MODEL_FILE, run_dir

PROG = "specbench"


def _grid(text: str) -> tuple[float, float]:
    from specbench.cli.resample import parse_grid
    from specbench.evaluation.runs import RunError

    try:
        return parse_grid(text)
    except RunError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _scale(text: str) -> str | float:
    if text in ("published", "auto"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected published, auto or a factor > 0")
    return value


@contextlib.contextmanager
def _quiet_native_stderr(quiet: bool = True):
    """Silence what the frameworks' native code writes to stderr (TensorFlow's oneDNN and absl
    lines at import, its ``E0000 ... NodeDef`` line during a prediction), which reads like a
    failure; ``specbench --verbose`` keeps it. Python's own errors are printed after."""
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def parser() -> argparse.ArgumentParser:
    from specbench.training.backend import BACKENDS
    from specbench.cli.classify import DEFAULT_TOP_K
    from specbench.cli.spectra_files import SPECTRA_FORMATS

    top = argparse.ArgumentParser(
        prog=PROG,
        description="Use a model trained by the specbench workflow.",
    )
    top.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    top.add_argument(
        "--verbose",
        action="store_true",
        help="show the frameworks' own log lines (TensorFlow, XLA), hidden by default",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_help = f"a trained run folder ({run_dir('DATASET', 'MODEL', 'N')}) or its {MODEL_FILE}"

    info = commands.add_parser(
        "info",
        help="describe a trained model",
        description="Architecture, hyperparameters, parameters, dataset, test accuracy, "
        "training protocol and backend of a trained run.",
    )
    info.add_argument("run", metavar="RUN", help=run_help)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    classify = commands.add_parser(
        "classify",
        help="classify spectra with a trained model",
        description="Predict the class of every spectrum in SPECTRA; write one CSV row each.",
        epilog="Spectrum formats: "
        + "; ".join(f"{suffix}: {what}" for suffix, what in SPECTRA_FORMATS.items())
        + ". The model's points sit at 0..n_points-1 unless --grid places them.",
    )
    classify.add_argument("run", metavar="RUN", help=run_help)
    classify.add_argument("spectra", metavar="SPECTRA", nargs="+", help="spectrum file(s)")
    classify.add_argument(
        "-o", "--output", required=True, metavar="OUT.csv", help="output CSV ('-': stdout)"
    )
    classify.add_argument(
        "--top-k",
        type=_positive,
        default=DEFAULT_TOP_K,
        metavar="K",
        help=f"classes listed per spectrum (default {DEFAULT_TOP_K})",
    )
    classify.add_argument(
        "--grid",
        type=_grid,
        metavar="START,STOP",
        help="the model's points run evenly from START to STOP in your x units; x,y spectra "
        "are interpolated there, rows of another length are taken to span START..STOP",
    )
    classify.add_argument(
        "--backend", choices=BACKENDS, help="Keras backend (default: the one it was trained with)"
    )
    classify.add_argument(
        "--threads", type=_positive, default=1, help="CPU threads of the backend (default 1)"
    )
    classify.add_argument(
        "--trust-user-code",
        action="store_true",
        help="load a user model with Keras' safe_mode off (needed for a wrapped torch module; "
        "only for models you trained from your own code)",
    )
    check = commands.add_parser(
        "check-model",
        help="a model's size and speed at your geometry (published or your own builder)",
        description="Build a published architecture at your geometry, or import and call your "
        "own builder (checked as the workflow checks it before any job: input, output, softmax); "
        "print parameters, MACs per spectrum, output shape and the seconds of one "
        "forward/backward batch on this machine.",
    )
    check.add_argument(
        "builder",
        metavar="ARCHITECTURE",
        help="a published architecture (e.g. cnn2), FILE.py:FUNCTION or package.module:FUNCTION",
    )
    check.add_argument(
        "--architecture-scale",
        default="published",
        type=_scale,
        metavar="SCALE",
        help="kernels of a published architecture as training scales them: published "
        "(default), auto (n_points / 5000) or a factor",
    )
    check.add_argument("--points", type=_positive, default=5000, help="n_points (default 5000)")
    check.add_argument("--classes", type=_positive, default=3, help="n_classes (default 3)")
    check.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a hyperparameter (YAML value)",
    )
    check.add_argument("--batch-size", type=_positive, default=32, help="default 32")
    check.add_argument("--json", action="store_true", help="print JSON instead of text")
    check.add_argument("--check-only", action="store_true", help=argparse.SUPPRESS)
    return top


def _check_model(args) -> int:
    from specbench.training import backend
    from specbench.cli import modelcheck
    from specbench.models import user

    from specbench.models import registry

    if not user.is_user(args.builder) and not registry.is_published(args.builder):
        raise user.UserModelError(
            f"{args.builder!r}: expected an architecture ({', '.join(registry.names())}), "
            "FILE.py:FUNCTION or module:FUNCTION"
        )
    hyperparameters = modelcheck.parse_hp(args.hp)
    with _quiet_native_stderr(not args.verbose):
        backend.configure(os.environ.get("KERAS_BACKEND", "tensorflow"), "float32", 1)
    if args.check_only:  # the workflow's check before any job (config.check_config)
        user.check_model(args.builder, args.points, args.classes, hyperparameters)
        return 0
    summary = modelcheck.describe(
        args.builder,
        args.points,
        args.classes,
        hyperparameters,
        batch_size=args.batch_size,
        architecture_scale=args.architecture_scale,
    )
    print(json.dumps(summary, indent=2) if args.json else _text(summary))
    return 0


def _text(summary: dict[str, Any]) -> str:
    """`specbench info` as aligned `key: value` lines (nested values as compact JSON)."""
    lines = []
    width = max(map(len, summary))
    for key, value in summary.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(", ", ": "))
        elif value is None:
            value = "-"
        lines.append(f"{key + ':':<{width + 1}} {value}")
    return "\n".join(lines)


def _info(args) -> int:
    from specbench.evaluation.runs import load_run, run_summary

    summary = run_summary(load_run(args.run))
    print(json.dumps(summary, indent=2) if args.json else _text(summary))
    return 0


def _classify(args) -> int:
    from specbench.cli.classify import classify, write_table

    with _quiet_native_stderr(not args.verbose):
        result = classify(
            args.run,
            args.spectra,
            top=args.top_k,
            grid=args.grid,
            backend=args.backend,
            threads=args.threads,
            trust_user_code=args.trust_user_code,
        )
    for note in result.warnings:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
    write_table(result.table, args.output)
    report = sys.stderr if args.output == "-" else sys.stdout
    n = len(result.table)
    summary = f"{n} spectr{'um' if n == 1 else 'a'} classified"
    if args.output != "-":
        summary += f", wrote {args.output}"
    if result.accuracy is not None:
        right = int(round(result.accuracy * result.n_labelled))
        summary += f"; accuracy {result.accuracy:.4f} ({right} of {result.n_labelled})"
    print(summary, file=report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    from specbench.training.backend import BackendError
    from specbench.models.registry import HyperparameterError
    from specbench.models.user import UserModelError
    from specbench.evaluation.runs import RunError

    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if not args.verbose:  # TensorFlow's C++ log (its E0000 lines are not errors of ours)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        if args.command == "check-model":
            return _check_model(args)
        return _info(args) if args.command == "info" else _classify(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: no message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (RunError, BackendError, UserModelError, HyperparameterError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
