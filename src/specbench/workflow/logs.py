"""Logging helpers shared by the workflow scripts."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def redirect_to_log(path: str | os.PathLike) -> Iterator[logging.Logger]:
    """Send stdout, stderr (also of C extensions, e.g. TensorFlow) and `logging` to `path`.

    Used by every script under scripts/: a job's progress and errors end up in its Snakemake log.
    An exception raised inside the block is logged with its traceback before it propagates, so a
    failed job's log says why it failed.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        old_streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = log
        root = logging.getLogger()
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logger = logging.getLogger("specbench")
        try:
            yield logger
        except BaseException:
            logger.exception("job failed")
            raise
        finally:
            root.removeHandler(handler)
            sys.stdout, sys.stderr = old_streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
