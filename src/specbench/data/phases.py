"""Your own phases as classes: XRD patterns of crystal structures, and reference peak lists.

Two sources of a dataset's classes besides the generated and published ones:

- ``structures``: crystal structures (CIF files, a folder of them or a list), one class per file
  named by the file's stem. The peak positions (2θ) and relative intensities come from pymatgen's
  ``XRDCalculator`` (the field's standard; the optional extra ``pip install -e '.[xrd]'``) at the
  dataset's X-ray wavelength over its 2θ range (``axis.range``);
- ``peaks``: a CSV, TSV or semicolon-separated file (decimal commas there) of ``class, position,
  height`` rows (any axis unit: 2θ, Raman shift, ppm), one class per name in first-seen order,
  over the axis range of the config.

Both map their peaks onto the dataset's grid of ``n_points`` points spanning the axis range
evenly (point i at start + i·(stop − start)/(n_points − 1)): a peak goes to the nearest point;
peaks that fall on the same point are merged by **adding their intensities** (two reflections
closer than a grid step appear as one peak of their summed intensity); peaks below
``min_intensity`` of the class's tallest are left out; heights are scaled so that the tallest is
1.0, as in the published format. The classes then render, train and test like any other. The
axis (unit and range) and the class names are kept in the class set's metadata (``axis``,
``names``): they travel to the splits, the runs and ``specbench classify``.

X-ray diffraction also varies position-aware, not uniformly: lattice strain moves every peak of a
spectrum by Δ2θ = −2ε·tan θ (specbench.data.xrd, the rendering option ``render.xrd.strain``).
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specbench.core.inputs import config_path, is_number
from specbench.data.classes import ClassesError, ClassSet
from specbench.data.xrd import grid_step

__all__ = [
    "EXTRA",
    "peak_list_classes",
    "read_structures",
    "structure_classes",
    "structure_files",
    "to_grid",
]

#: How to install what the structures source needs.
EXTRA = "pip install -e '.[xrd]'"


def to_grid(
    x: Sequence[float],
    intensity: Sequence[float],
    *,
    start: float,
    stop: float,
    n_points: int,
    min_intensity: float = 0.0,
    where: str = "peaks",
) -> tuple[np.ndarray, np.ndarray]:
    """(positions int64, heights float64) of peaks at `x` (axis units) on the grid: nearest point,
    intensities of one point added, those below `min_intensity` of the tallest left out, the
    tallest scaled to 1.0, sorted by position. ClassesError naming `where` for a peak outside
    the axis range or no positive intensity."""
    x = np.asarray(x, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    if x.size == 0:
        raise ClassesError(f"{where}: no peaks")
    outside = (x < start) | (x > stop)
    if outside.any():
        raise ClassesError(
            f"{where}: peak at {x[outside][0]:g} outside the axis range [{start:g}, {stop:g}]"
        )
    negative = np.flatnonzero(intensity < 0)
    if negative.size:
        i = negative[0]
        raise ClassesError(
            f"{where}: intensity {intensity[i]:g} of the peak at {x[i]:g}: intensities must be >= 0"
        )
    if not (intensity > 0).any():
        raise ClassesError(f"{where}: no intensity above 0 (intensities must be >= 0 with one > 0)")
    step = grid_step(start, stop, n_points)
    index = np.rint((x - start) / step).astype(np.int64)
    merged = np.bincount(index, weights=intensity, minlength=n_points)
    keep = merged >= min_intensity * merged.max()
    keep &= merged > 0
    positions = np.flatnonzero(keep)
    heights = merged[positions] / merged.max()
    return positions.astype(np.int64), heights


def structure_files(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The CIF files of a ``structures`` setting: a folder (its ``*.cif`` and ``*.CIF``, by
    name) or files."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted(f for f in item.iterdir() if f.suffix.lower() == ".cif" and f.is_file())
            if not found:
                raise ClassesError(f"{item}: no .cif files in this folder")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise ClassesError(f"{item}: no such file or folder")
    names = [f.stem for f in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ClassesError(
            f"structures: two files are named {twice[0]!r} (class names must differ)"
        )
    return files


def _pymatgen():
    try:
        from pymatgen.analysis.diffraction.xrd import XRDCalculator
        from pymatgen.core import Structure
    except ImportError:
        raise ClassesError(
            f"source 'structures' needs pymatgen, which is not installed ({EXTRA})"
        ) from None
    return Structure, XRDCalculator


def read_structures(files: Sequence[Path]) -> list:
    """pymatgen Structures of `files`; ClassesError naming the file that cannot be read."""
    import warnings

    structure_type, _ = _pymatgen()
    out = []
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # CIF parser notes (rounded occupancies, ...)
                count = _cif_structures(path)
                out.append(structure_type.from_file(str(path)))
        except Exception as exc:  # pymatgen raises many kinds for a bad CIF
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ClassesError(f"{path}: not a readable crystal structure ({message})") from None
        if count > 1:  # pymatgen reads the first: the others would be left out unsaid
            raise ClassesError(
                f"{path}: {count} crystal structures (data blocks) in one file; a class is one "
                "structure, named by its file: put each in a file of its own"
            )
    return out


def _cif_structures(path: Path) -> int:
    """How many crystal structures a CIF file holds: its data blocks (``data_...`` lines) with
    atom sites (``_atom_site_fract_x`` or ``_atom_site_Cartn_x``; a block of publication data
    only is none), whatever their names (pymatgen keeps one of two blocks of one name); 1 for a
    file of another format."""
    import re

    if path.suffix.lower() != ".cif":
        return 1
    text = path.read_text(encoding="utf-8", errors="replace")
    blocks = re.split(r"(?im)^[ \t]*data_", text)[1:]
    sites = re.compile(r"(?im)^[ \t]*_atom_site_(fract|cartn)_x\b")
    return sum(1 for block in blocks if sites.search(block))


def _check_distinct(classes: ClassSet, names: Sequence[str]) -> None:
    seen: dict[tuple, str] = {}
    for name, pos, hgt in zip(names, classes.positions, classes.heights):
        key = (tuple(pos.tolist()), tuple(np.round(hgt, 6).tolist()))
        if key in seen:
            raise ClassesError(
                f"classes {seen[key]!r} and {name!r} have the same peaks on this grid "
                "(a duplicate: one class could never be told from the other)"
            )
        seen[key] = name


def structure_classes(
    files: Sequence[Path],
    *,
    n_points: int,
    two_theta: Sequence[float],
    wavelength: str,
    min_intensity: float,
) -> ClassSet:
    """One class per crystal structure file: its XRD pattern (module docstring); the defaults of
    `wavelength` and `min_intensity` are the schema's (``datasets.*.xrd``)."""
    _, calculator_type = _pymatgen()
    start, stop = float(two_theta[0]), float(two_theta[1])
    calculator = calculator_type(wavelength=wavelength)
    positions, heights, reflections = [], [], []
    for path, structure in zip(files, read_structures(files)):
        pattern = calculator.get_pattern(structure, two_theta_range=(start, stop))
        pos, hgt = to_grid(
            pattern.x, pattern.y, start=start, stop=stop, n_points=n_points,
            min_intensity=min_intensity, where=str(path),
        )  # fmt: skip
        positions.append(pos)
        heights.append(hgt)
        reflections.append(_reflections(structure, pattern, pos, grid=(start, stop, n_points)))
    names = [path.stem for path in files]
    classes = ClassSet(n_points, positions, heights, [None] * len(files))
    _check_distinct(classes, names)
    classes.metadata = {
        "names": names,
        "axis": {"unit": "2theta", "start": start, "stop": stop},
        "wavelength": wavelength,
        "wavelength_angstrom": float(calculator.wavelength),
        "reflections": reflections,
    }
    return classes


def _reflections(structure, pattern, pos: np.ndarray, *, grid: tuple) -> dict:
    """The reflections behind each grid peak of a structure's pattern, for preferred orientation
    (specbench.data.xrd.texture_factors): ``peaks``, per grid peak a list of [h, k, l, weight],
    every reflection of the pattern peaks mapped onto that point with its share of the pattern
    peak's intensity; ``reciprocal``, the reciprocal lattice (rows b1, b2, b3 in 1/Å, without
    2π) that turns them into directions.

    A pattern peak's reflections are the reciprocal lattice points pymatgen summed into it: the
    signed permutations of its families' (h k l) at the peak's d-spacing (hexagonal (h k i l)
    permuted as four indices, stored as (h k l)), so that (h k l) and (k h l) are both there where
    they diffract at one angle without being related by symmetry (Laue classes 4/m, m-3, 6/m,
    -3). Each weighs in proportion to its own squared structure factor |F|², computed as pymatgen
    computes it (its atomic scattering factors at the peak's sin θ/λ, the sites' occupancies; one
    angle, so the Lorentz-polarization factor is common): reflections extinct by the lattice's
    centering or a glide (|F|² = 0, counted in pymatgen's multiplicities) are left out, and
    reflections of one peak that are not symmetry-equivalent keep their own intensities."""
    start, stop, n_points = grid
    reciprocal = np.asarray(structure.lattice.reciprocal_lattice_crystallographic.matrix)
    points = np.rint((np.asarray(pattern.x) - start) / grid_step(start, stop, n_points))
    slot = {int(p): j for j, p in enumerate(pos)}
    peaks: list[list[list[float]]] = [[] for _ in pos]
    for point, intensity, families in zip(points.astype(int), pattern.y, pattern.hkls):
        if int(point) not in slot:
            continue  # left out (below min_intensity)
        members = np.array(sorted(set().union(*(_same_d(f["hkl"], reciprocal) for f in families))))
        g = np.linalg.norm(members[0] @ reciprocal)
        squared = np.abs(_structure_factors(structure, members, (g / 2) ** 2)) ** 2
        keep = squared > 1e-8 * squared.max()
        weights = float(intensity) * squared[keep] / squared[keep].sum()
        peaks[slot[int(point)]].extend(
            [*map(int, m), round(float(w), 6)] for m, w in zip(members[keep], weights)
        )
    return {"reciprocal": np.round(reciprocal, 8).tolist(), "peaks": peaks}


def _same_d(hkl: Sequence[int], reciprocal: np.ndarray) -> set[tuple[int, int, int]]:
    """The signed permutations of a pymatgen family's (h k l), or (h k i l) with i = −h−k, that
    lie at its d-spacing, as (h k l): the reflections pymatgen counts in the family."""
    hkl = tuple(int(v) for v in hkl)
    found = set()
    for order in set(itertools.permutations(hkl)):
        for signs in itertools.product((1, -1), repeat=len(hkl)):
            v = [a * b for a, b in zip(order, signs)]
            if len(v) == 4:
                if v[2] != -(v[0] + v[1]):
                    continue
                v = [v[0], v[1], v[3]]
            found.add(tuple(v))
    ref = np.array([hkl[0], hkl[1], hkl[-1]]) @ reciprocal
    rows = np.array(sorted(found))
    same = np.isclose(np.linalg.norm(rows @ reciprocal, axis=1), np.linalg.norm(ref), rtol=1e-6)
    return {tuple(int(x) for x in row) for row in rows[same]}


def _structure_factors(structure, hkls: np.ndarray, s2: float) -> np.ndarray:
    """F(hkl) of `structure` at (sin θ/λ)² = `s2` (one d-spacing), with pymatgen's XRDCalculator
    atomic scattering factors f = Z − 41.78214 s² Σ a exp(−b s²) and the sites' occupancies."""
    from pymatgen.analysis.diffraction.xrd import ATOMIC_SCATTERING_PARAMS

    f = np.zeros(len(hkls), dtype=np.complex128)
    for site in structure:
        phase = np.exp(2j * np.pi * (np.asarray(hkls, np.float64) @ site.frac_coords))
        for species, occupancy in site.species.items():
            coeff = np.asarray(ATOMIC_SCATTERING_PARAMS[species.symbol], np.float64)
            fs = species.Z - 41.78214 * s2 * np.sum(coeff[:, 0] * np.exp(-coeff[:, 1] * s2))
            f += occupancy * fs * phase
    return f


def peak_list_classes(
    path: str | os.PathLike,
    *,
    n_points: int,
    axis_range: Sequence[float],
    unit: str,
    min_intensity: float = 0.0,
) -> ClassSet:
    """One class per name of a CSV/TSV of ``class, position, height`` rows (module docstring)."""
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first name
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ClassesError(f"{path}: no such peak list") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassesError(f"{path}: not a readable text file ({exc})") from None
    numbered = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise ClassesError(f"{path}: an empty peak list (no rows)")
    delimiter = _delimiter(numbered[0][1])
    cells = csv.reader(
        [line for _, line in numbered], delimiter=delimiter, skipinitialspace=True
    )  # quoted cells ("28.4", as spreadsheets write them), also after a space: `"a", "28.4"`
    rows = [(number, [cell.strip() for cell in row]) for (number, _), row in zip(numbered, cells)]
    comma = delimiter == ";"  # a decimal comma in European spreadsheets: `quartz;26,64;100`
    first = rows[0][1]
    if len(first) >= 3 and not any(is_number(_point(c, comma)) for c in first[1:3]):
        rows = rows[1:]  # a header: class, position, height (or phase, 2theta, intensity, ...)
    peaks: dict[str, list[tuple[float, float]]] = {}
    for number, row in rows:  # number: the line of the file
        try:
            name, x, height = row[0], float(_point(row[1], comma)), float(_point(row[2], comma))
        except (IndexError, ValueError):
            raise ClassesError(
                f"{path}: line {number} {row!r} is not 'class, position, height'"
            ) from None
        if not name or not (math.isfinite(x) and math.isfinite(height)):
            raise ClassesError(f"{path}: line {number} {row!r} has an empty name or a bad number")
        peaks.setdefault(name, []).append((x, height))
    if not peaks:
        raise ClassesError(f"{path}: an empty peak list (no rows)")
    start, stop = float(axis_range[0]), float(axis_range[1])
    positions, heights = [], []
    for name, items in peaks.items():
        x, y = zip(*items)
        pos, hgt = to_grid(
            x, y, start=start, stop=stop, n_points=n_points, min_intensity=min_intensity,
            where=f"{path}: class {name!r}",
        )  # fmt: skip
        positions.append(pos)
        heights.append(hgt)
    names = list(peaks)
    classes = ClassSet(n_points, positions, heights, [None] * len(names))
    _check_distinct(classes, names)
    classes.metadata = {"names": names, "axis": {"unit": unit, "start": start, "stop": stop}}
    return classes


def _delimiter(line: str) -> str:
    """The delimiter of a peak list, from its first row: a tab where there is one, else a
    semicolon where the row is three or more cells at semicolons, else a comma."""
    if "\t" in line:
        return "\t"
    if ";" in line and len(next(csv.reader([line], delimiter=";"))) >= 3:
        return ";"
    return ","


def _point(cell: str, decimal_comma: bool) -> str:
    """A cell with its decimal comma made a point (``26,64``: semicolon-separated files), where
    `decimal_comma` and it has no point."""
    if decimal_comma and "." not in cell:
        return cell.replace(",", ".", 1)
    return cell


def source_files(dataset: dict) -> list[Path]:
    """The input files of a structures or peaks dataset (relative paths: the working directory,
    else the workflow's, specbench.core.inputs.config_path)."""
    if dataset["source"] == "structures":
        given = dataset["structures"]
        items = [given] if isinstance(given, str) else list(given)
        return structure_files([config_path(item) for item in items])
    return [config_path(dataset["peaks_file"])]


def own_classes(
    dataset: dict, *, name: str, source: str | os.PathLike | Sequence[str] | None = None
) -> ClassSet:
    """The classes of a ``structures`` or ``peaks`` dataset (its config entry, defaults filled);
    `source`: its input files (rule generate_classes), else found from the entry."""
    files = [
        Path(f) for f in ([source] if isinstance(source, (str, os.PathLike)) else source or [])
    ]
    files = files or source_files(dataset)
    axis = dataset["axis"]
    if dataset["source"] == "structures":
        from specbench.core import schema

        xrd = schema.fill(dataset.get("xrd"), "datasets", "*", "xrd", name="xrd")
        return structure_classes(
            files,
            n_points=int(dataset["n_points"]),
            two_theta=axis["range"],
            wavelength=xrd["wavelength"],
            min_intensity=float(xrd["min_intensity"]),
        )
    return peak_list_classes(
        files[0],
        n_points=int(dataset["n_points"]),
        axis_range=axis["range"],
        unit=axis["unit"],
    )
