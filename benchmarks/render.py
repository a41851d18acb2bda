"""Benchmark of the dataset stage at the paper's scale (Schuetzke et al. 2023).

Renders the 500-class x 5000-point benchmark set (50/10/9 train/val/test spectra per class,
34,500 spectra) and prints, from one run:

* spectra/s of specbench.data.render (random draws + vectorised rendering of all 34,500 spectra, the
  way render_dataset does it: blocks rendered into one reused buffer) against a per-spectrum
  ``gaussian_filter1d`` loop, the way the published scripts render (zeros, set peaks, filter,
  collect; the loop is timed on a subset of rows spread over the three splits, from the same
  peaks and widths, so it also checks that both agree);
* the time to write all three splits to Parquet and to read them back as float32 numpy
  (specbench.data.splits.read_arrays), in MB/s of float32 spectra;
* the end-to-end time of render_dataset (render + write + ambiguous pairs) and peak memory.

With ``--writers`` it also compares Parquet writer settings on the training split (write MB/s,
file size, read-back MB/s), the measurement behind specbench.data.splits.WRITE_OPTIONS.

With ``--artifacts`` the same set is rendered with measurement artifacts (ARTIFACTS: pseudo-Voigt
peaks with eta in [0, 1], a polynomial + exponential background, Gaussian noise at SNR 10-100; the
test split Lorentzian at SNR 30), and the loop computes the same thing per spectrum (the row's
pseudo-Voigt kernel with scipy's correlate1d, then specbench.data.artifacts.apply_artifacts on the row).
``--artifacts noiseless`` leaves the noise out (shape and background only).

Run:  PYTHONPATH=src python benchmarks/render.py [--loop-rows 3000] [--repeat 5] [--writers]
      [--artifacts {all,noiseless}]
Timings are the best of --repeat runs (the first touch of fresh memory is slow in some VMs);
process CPU times are printed beside them, since on a shared machine wall-clock time also
measures the other processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import correlate1d, gaussian_filter1d

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from specbench.data import splits  # noqa: E402
from specbench.data.artifacts import apply_artifacts  # noqa: E402
from specbench.data.classes import generate_classes, save_classes  # noqa: E402
from specbench.data.peaks import profile_kernels  # noqa: E402
from specbench.data.dataset_files import render_dataset  # noqa: E402
from specbench.data.render import fill_defaults, plan_splits  # noqa: E402

# The paper's scale; shift, height shift, sigma and the test split: the schema's defaults (the
# paper's), filled in by fill_defaults.
PAPER = {"seed": 2022, "render": {"train_per_class": 50, "val_per_class": 10}, "test": {}}
ARTIFACTS = {
    "render": {
        "peak_shape": {"shape": "pseudo_voigt", "eta": [0.0, 1.0]},
        "background": {
            "polynomial": [[0.0, 0.1], [-0.1, 0.1]],
            "exponential": {"amplitude": [0.0, 0.3], "decay": [0.05, 0.3]},
        },
        "noise": {"kind": "gaussian", "snr": [10, 100]},
    },
    "test": {
        "peak_shape": {"shape": "lorentzian"},
        "noise": {"kind": "gaussian", "snr": 30},
    },
}
MB = 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


FIRST: dict[str, float] = {}  # wall-clock time of the first call of each timing


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def best(fn, repeat: int, name: str = ""):
    """(wall-clock s, user CPU s, system CPU s) of the fastest of `repeat` calls, and the result.

    System CPU time is mostly page faults of freshly allocated memory (very slow in some VMs).
    """
    runs, result = [], None
    for _ in range(repeat):
        result = None
        (u0, s0), t0 = _cpu(), time.perf_counter()
        result = fn()
        wall = time.perf_counter() - t0
        u1, s1 = _cpu()
        runs.append((wall, u1 - u0, s1 - s0))
    FIRST[name] = runs[0][0]
    return min(runs), result


def package_render(classes, params, block_rows: int = splits.ROW_GROUP_ROWS) -> int:
    """Draw and render every spectrum of the three splits as render_dataset does (no writing)."""
    plans = plan_splits(classes, params)
    rows = 0
    buffer = np.empty((block_rows, classes.n_points), dtype=np.float32)
    for plan in plans.values():
        for start in range(0, len(plan), block_rows):
            stop = min(start + block_rows, len(plan))
            plan.render(start, stop, out=buffer[: stop - start])
            rows += stop - start
    return rows


def loop_render(plan, rows: np.ndarray) -> np.ndarray:
    """The published way: one gaussian_filter1d per spectrum, collected into an array (with
    artifacts: the row's kernel with correlate1d, then its background and noise)."""
    out = []
    for r in rows:
        x = np.zeros(plan.n_points)
        for p, h in zip(plan.positions[r, : plan.counts[r]], plan.heights[r, : plan.counts[r]]):
            x[p] = h
        if plan.artifacts is None:
            out.append(gaussian_filter1d(x, float(plan.sigma[r]), mode="constant"))
            continue
        art = plan.artifacts[r : r + 1]
        kernel, _ = profile_kernels(plan.sigma[r : r + 1], art.eta)
        y = correlate1d(x, kernel[0], mode="constant").astype(np.float32)
        out.append(apply_artifacts(y[None], art)[0])
    return np.array(out, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop-rows", type=int, default=3000, help="rows timed in the loop")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best is shown)")
    parser.add_argument("--writers", action="store_true", help="compare Parquet writer settings")
    parser.add_argument(
        "--artifacts",
        choices=["all", "noiseless"],
        help="render with measurement artifacts (ARTIFACTS; noiseless: without the noise)",
    )
    args = parser.parse_args()

    config = PAPER
    if args.artifacts:
        config = {
            **PAPER,
            "render": {**PAPER["render"], **ARTIFACTS["render"]},
            "test": dict(ARTIFACTS["test"]),
        }
        if args.artifacts == "noiseless":
            del config["render"]["noise"], config["test"]["noise"]
        print(f"artifacts: render {config['render']}, test {config['test']}")
    params = fill_defaults(config)
    classes = generate_classes(500, n_points=5000, seed=2022)
    plans = plan_splits(classes, params)
    n_total = sum(len(p) for p in plans.values())
    print(
        f"dataset: {len(classes)} classes x {classes.n_points} points, {n_total} spectra "
        f"({', '.join(f'{s} {len(p)}' for s, p in plans.items())}); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        classes_path = tmp / "classes.json"
        save_classes(classes, classes_path)
        paths = {s: tmp / f"{s}.parquet" for s in plans}

        # End-to-end rule function first, so peak memory is that of render_dataset alone.
        t0 = time.perf_counter()
        render_dataset(
            classes_path=classes_path,
            render=config,
            name="benchmark",
            config_hash="bench",
            train_path=paths["train"],
            val_path=paths["val"],
            test_path=paths["test"],
            ambiguous_path=tmp / "ambiguous_pairs.csv",
        )
        t_dataset = time.perf_counter() - t0
        rss_dataset = peak_rss_mb()
        print(
            f"render_dataset (render + write 3 splits + ambiguous pairs): {t_dataset:.2f} s, "
            f"peak RSS {rss_dataset:.0f} MB"
        )

        # Renderer throughput vs the per-spectrum loop.
        (t_pkg, u_pkg, s_pkg), rows = best(lambda: package_render(classes, params), args.repeat)
        order = [(s, r) for s, p in plans.items() for r in range(len(p))]
        pick = np.linspace(0, len(order) - 1, min(args.loop_rows, len(order))).astype(int)
        by_split: dict[str, list[int]] = {}
        for i in pick:
            split, r = order[i]
            by_split.setdefault(split, []).append(r)

        def run_loop():
            return {s: loop_render(plans[s], np.array(r)) for s, r in by_split.items()}

        (t_loop, u_loop, s_loop), loop_out = best(run_loop, args.repeat)
        err = max(
            float(np.abs(loop_out[s] - plans[s].render()[np.array(r)]).max())
            for s, r in by_split.items()
        )
        pkg_rate = rows / t_pkg
        loop_rate = len(pick) / t_loop
        print(
            f"render, specbench.data.render: {rows} spectra in {t_pkg:.3f} s = {pkg_rate:,.0f} "
            f"spectra/s"
        )
        print(
            f"render, {'correlate1d + artifacts' if args.artifacts else 'gaussian_filter1d'} loop "
            f"(timed on {len(pick)} of {n_total} spectra): "
            f"{t_loop:.3f} s = {loop_rate:,.0f} spectra/s "
            f"(extrapolated {n_total / loop_rate:.2f} s for all)"
        )
        print(
            f"render speed-up: {pkg_rate / loop_rate:.1f}x wall-clock, "
            f"{(rows / (u_pkg + s_pkg)) / (len(pick) / (u_loop + s_loop)):.1f}x in CPU time "
            f"(max |difference| {err:.1e})"
        )

        # Write and read back all three splits.
        spectra = {s: p.render() for s, p in plans.items()}
        nbytes = sum(a.nbytes for a in spectra.values())

        def write_all(options=None, suffix=""):
            for s, p in plans.items():
                pos, hgt = p.peak_lists()
                splits.write_split(
                    tmp / f"{s}{suffix}.parquet",
                    spectra=spectra[s],
                    labels=p.labels,
                    peak_positions=pos,
                    peak_heights=hgt,
                    sigma=p.sigma,
                    variant=p.variant,
                    artifacts=p.artifacts,
                    metadata={"dataset": "benchmark"},
                    **(options or {}),
                )

        def read_all(suffix=""):
            return {s: splits.read_arrays(tmp / f"{s}{suffix}.parquet") for s in plans}

        (t_write, u_write, s_write), _ = best(write_all, args.repeat, "write")
        (t_read, u_read, s_read), back = best(read_all, args.repeat, "read")
        assert all(np.array_equal(back[s][0], spectra[s]) for s in plans)
        size = sum((tmp / f"{s}.parquet").stat().st_size for s in plans)
        print(
            f"write 3 splits ({nbytes / MB:.0f} MB float32 -> {size / MB:.0f} MB Parquet, "
            f"{splits.WRITE_OPTIONS}): {t_write:.2f} s = {nbytes / MB / t_write:,.0f} MB/s "
            f"(CPU user {u_write:.2f} s, system {s_write:.2f} s)"
        )
        print(
            f"read back (splits.read_arrays, float32 numpy): {t_read:.2f} s = "
            f"{nbytes / MB / t_read:,.0f} MB/s (CPU user {u_read:.2f} s, system {s_read:.2f} s; "
            f"first of {args.repeat} reads: {nbytes / MB / FIRST['read']:,.0f} MB/s)"
        )
        del back

        if args.writers:
            print("\nwriter settings, all three splits (best of --repeat):")
            candidates = {
                "no compression": {"compression": "none"},
                "lz4 (default)": {"compression": "lz4"},
                "lz4, dictionary on all columns": {"compression": "lz4", "use_dictionary": True},
                "snappy": {"compression": "snappy"},
                "zstd(1)": {"compression": "zstd", "compression_level": 1},
                "zstd(1), byte_stream_split": {
                    "compression": "zstd",
                    "compression_level": 1,
                    "use_byte_stream_split": ["spectrum.list.element"],
                },
            }
            for i, (label, options) in enumerate(candidates.items()):
                suffix = f"_w{i}"
                (tw, _, _), _ = best(lambda: write_all(options, suffix), args.repeat)
                (tr, _, _), _ = best(lambda: read_all(suffix), args.repeat)
                sz = sum((tmp / f"{s}{suffix}.parquet").stat().st_size for s in plans)
                print(
                    f"  {label:32s} write {nbytes / MB / tw:7,.0f} MB/s  size {sz / MB:6.0f} MB"
                    f"  read {nbytes / MB / tr:7,.0f} MB/s"
                )
                for s in plans:
                    (tmp / f"{s}{suffix}.parquet").unlink()

    print(
        f"peak RSS of the whole benchmark: {peak_rss_mb():.0f} MB "
        f"(render_dataset alone: {rss_dataset:.0f} MB)"
    )


if __name__ == "__main__":
    main()
