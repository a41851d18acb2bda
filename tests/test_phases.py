"""Your own phases as classes (specbench.data.phases): XRD patterns of crystal structures against
Bragg's law and pymatgen, reference peak lists, lattice strain against its formula, bad inputs
refused in one line before any job, and real workflow runs from CIFs and from a peak list."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_workflow, snakemake
from specbench.data import phases, xrd
from specbench.data.classes import ClassesError
from specbench.workflow import config as sbconfig
from specbench.workflow import validation

pytest.importorskip("pymatgen.analysis.diffraction.xrd")

CU_KA1 = 1.54056  # Å
NACL_A = 5.640


def nacl_cif(folder: Path, name: str = "halite", a: float = NACL_A) -> Path:
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    folder.mkdir(parents=True, exist_ok=True)
    structure = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    path = folder / f"{name}.cif"
    CifWriter(structure).write_file(str(path))
    return path


def bragg_two_theta(h: int, k: int, l: int, a: float = NACL_A, wavelength: float = CU_KA1):
    d = a / math.sqrt(h * h + k * k + l * l)
    return 2 * math.degrees(math.asin(wavelength / (2 * d)))


def test_cubic_peaks_sit_where_bragg_puts_them(tmp_path):
    """NaCl, a = 5.640 Å, Cu Kα1: (111), (200), (220) at Bragg's 2θ to the grid's resolution; the
    order of their intensities is pymatgen's."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from pymatgen.core import Structure

    path = nacl_cif(tmp_path)
    start, stop, n = 10.0, 80.0, 3501
    step = (stop - start) / (n - 1)
    classes = phases.structure_classes(
        [path], n_points=n, two_theta=(start, stop), wavelength="CuKa1", min_intensity=0.0
    )
    assert classes.metadata["names"] == ["halite"]
    assert classes.metadata["axis"] == {"unit": "2theta", "start": start, "stop": stop}
    grid = xrd.axis_grid(start, stop, n)
    found = grid[classes.positions[0]]
    for hkl in ((1, 1, 1), (2, 0, 0), (2, 2, 0)):
        expected = bragg_two_theta(*hkl)
        assert np.min(np.abs(found - expected)) <= step / 2 + 1e-9, (hkl, expected)
    pattern = XRDCalculator("CuKa1").get_pattern(Structure.from_file(str(path)), (start, stop))
    first = np.argsort(pattern.x)[:3]  # (111), (200), (220)
    ours = [classes.heights[0][np.argmin(np.abs(found - pattern.x[i]))] for i in first]
    assert np.argsort(ours).tolist() == np.argsort(pattern.y[first]).tolist()
    assert max(classes.heights[0]) == 1.0  # the tallest, (200), scaled to 1


def test_peaks_on_one_point_are_added_and_weak_ones_left_out():
    positions, heights = phases.to_grid(
        [20.00, 20.01, 30.0, 40.0], [30.0, 30.0, 100.0, 0.5], start=10, stop=50, n_points=41,
        min_intensity=0.01,
    )  # fmt: skip
    assert positions.tolist() == [10, 20]  # 20.00 and 20.01 share point 10; 40.0 is below 1 %
    assert heights.tolist() == [0.6, 1.0]
    with pytest.raises(ClassesError, match="peak at 55 outside the axis range"):
        phases.to_grid([55.0], [1.0], start=10, stop=50, n_points=41)
    with pytest.raises(ClassesError, match="intensity -3 of the peak at 30"):
        phases.to_grid([20.0, 30.0], [1.0, -3.0], start=10, stop=50, n_points=41)
    with pytest.raises(ClassesError, match="no intensity above 0"):
        phases.to_grid([20.0, 30.0], [0.0, 0.0], start=10, stop=50, n_points=41)


def test_reflections_are_the_symmetry_equivalents_of_each_peak(tmp_path):
    """NaCl: the (111), (200) and (220) peaks are made of their families' 8, 6 and 12 members
    (all sign changes and permutations), the reciprocal lattice is 1/a: what preferred
    orientation averages over."""
    classes = phases.structure_classes([nacl_cif(tmp_path)], n_points=801, two_theta=(20, 100),
                                       wavelength="CuKa1", min_intensity=0.01)  # fmt: skip
    reflections = classes.metadata["reflections"][0]
    assert np.allclose(reflections["reciprocal"], np.eye(3) / NACL_A)
    for peak, family in zip(reflections["peaks"], [(1, 1, 1), (2, 0, 0), (2, 2, 0)]):
        members = {tuple(sorted(abs(v) for v in m[:3])) for m in peak}
        assert members == {tuple(sorted(family))}
        signed = {tuple(m[:3]) for m in peak}
        assert len(signed) == {(1, 1, 1): 8, (2, 0, 0): 6, (2, 2, 0): 12}[family]


def test_every_stored_reflection_of_the_example_lies_on_its_peak():
    """The example's eight phases (cubic, tetragonal, orthorhombic, trigonal and hexagonal cells;
    pymatgen's four-index hkl of the hexagonal ones): every symmetry-equivalent member stored for
    a peak diffracts, by Bragg's law from its reciprocal vector, at that peak's 2θ within half a
    grid step, so preferred orientation averages over the right reflections."""
    cfg = yaml.safe_load((REPO / "examples" / "phases.yaml").read_text())
    dataset = cfg["datasets"]["phases"]
    dataset["structures"] = str(REPO / dataset["structures"])
    classes = phases.own_classes(dataset, name="phases")
    start, stop = dataset["axis"]["range"]
    step = xrd.grid_step(start, stop, dataset["n_points"])
    wavelength = classes.metadata["wavelength_angstrom"]
    for k, reflections in enumerate(classes.metadata["reflections"]):
        reciprocal = np.asarray(reflections["reciprocal"])
        for point, members in zip(classes.positions[k], reflections["peaks"]):
            g = np.linalg.norm(np.asarray(members)[:, :3] @ reciprocal, axis=1)
            bragg = 2 * np.degrees(np.arcsin(wavelength * g / 2))
            assert np.abs(bragg - (start + point * step)).max() <= step / 2 + 1e-6


def scheelite_cif(folder: Path) -> Path:
    """CaWO4 (I4_1/a, Laue class 4/m): (h k l) and (k h l) diffract at one angle without being
    symmetry-equivalent."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    structure = Structure.from_spacegroup(
        "I4_1/a", Lattice.tetragonal(5.243, 11.376), ["Ca", "W", "O"],
        [[0, 0.25, 0.625], [0, 0.25, 0.125], [0.2415, 0.1504, 0.0861]],
    )  # fmt: skip
    path = folder / "scheelite.cif"
    CifWriter(structure).write_file(str(path))
    return path


#: Reflections a lattice centering leaves (the first letter of the space group symbol).
CENTERING = {
    "P": lambda h, k, l: True,
    "I": lambda h, k, l: (h + k + l) % 2 == 0,
    "F": lambda h, k, l: h % 2 == k % 2 == l % 2,
    "R": lambda h, k, l: (-h + k + l) % 3 == 0,  # hexagonal axes, obverse
    "C": lambda h, k, l: (h + k) % 2 == 0,
    "A": lambda h, k, l: (k + l) % 2 == 0,
}


def lattice_points_at(structure, d: float) -> set[tuple[int, int, int]]:
    """Every reciprocal lattice point (h k l) at spacing d, by brute force."""
    reciprocal = structure.lattice.reciprocal_lattice_crystallographic.matrix
    bound = [int(np.ceil(length / d)) for length in structure.lattice.abc]
    grid = np.array(np.meshgrid(*[np.arange(-b, b + 1) for b in bound])).reshape(3, -1).T
    same = np.isclose(np.linalg.norm(grid @ reciprocal, axis=1), 1 / d, rtol=1e-6)
    return {tuple(int(v) for v in row) for row in grid[same]}


@pytest.mark.parametrize("phase", ["scheelite", "example"])
def test_each_peak_holds_its_reflections_weighted_by_their_intensity(tmp_path, phase):
    """Preferred orientation averages over the right reflections: a grid peak stores the
    reflections at its d-spacing (all of them: pymatgen's multiplicities count the same set) less
    those the lattice centering extinguishes, with equal weights within a symmetry orbit and
    weights that add up to the pattern's intensity. In 4/m scheelite (h k l) and (k h l) share a
    peak, both stored, not symmetry-related, with their own weights."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if phase == "scheelite":
        files, (start, stop), n, wavelength = [scheelite_cif(tmp_path)], (10.0, 80.0), 1751, "CuKa"
    else:
        dataset = yaml.safe_load((REPO / "examples" / "phases.yaml").read_text())
        dataset = dataset["datasets"]["phases"]
        files = phases.structure_files(REPO / dataset["structures"])
        (start, stop), n = dataset["axis"]["range"], dataset["n_points"]
        wavelength = dataset["xrd"]["wavelength"]
    classes = phases.structure_classes(
        files, n_points=n, two_theta=(start, stop), wavelength=wavelength, min_intensity=0.01
    )
    step = xrd.grid_step(start, stop, n)
    unequal_same_peak = 0
    for path, positions, reflections in zip(
        files, classes.positions, classes.metadata["reflections"]
    ):
        structure = Structure.from_file(str(path))
        allowed = CENTERING[SpacegroupAnalyzer(structure).get_space_group_symbol()[0]]
        ops = SpacegroupAnalyzer(structure).get_point_group_operations(cartesian=False)
        pattern = XRDCalculator(wavelength).get_pattern(structure, (start, stop))
        on_point = np.rint((np.asarray(pattern.x) - start) / step).astype(int)
        for point, members in zip(positions, reflections["peaks"]):
            on = np.flatnonzero(on_point == point)
            at_d = set().union(*(lattice_points_at(structure, pattern.d_hkls[i]) for i in on))
            assert len(at_d) == sum(f["multiplicity"] for i in on for f in pattern.hkls[i])
            weight = {tuple(m[:3]): m[3] for m in members}
            assert len(weight) == len(members) and set(weight) <= at_d, (path, point)
            assert {v for v in at_d if allowed(*v)} >= set(weight)
            assert sum(weight.values()) == pytest.approx(pattern.y[on].sum(), rel=1e-4)
            for hkl, w in weight.items():  # one weight per symmetry orbit
                for op in ops:
                    image = tuple(int(v) for v in np.rint(np.array(hkl) @ op.rotation_matrix))
                    assert weight[image] == pytest.approx(w, abs=2e-6), (path, hkl, image)
            unequal_same_peak += len(set(np.round(list(weight.values()), 4))) > 1
    assert phase != "scheelite" or unequal_same_peak > 0


def test_a_peak_list_gives_named_classes(tmp_path):
    table = tmp_path / "peaks.csv"
    table.write_text(
        "class,position,height\nTiO2-anatase,144,100\nTiO2-anatase,639,20\n"
        "TiO2-rutile,447,100\nTiO2-rutile,612,95\nTiO2-rutile,143.9,5\n"
    )
    classes = phases.peak_list_classes(table, n_points=1001, axis_range=(100, 1100), unit="cm-1")
    assert classes.metadata["names"] == ["TiO2-anatase", "TiO2-rutile"]
    assert classes.metadata["axis"]["unit"] == "cm-1"
    assert classes.positions[0].tolist() == [44, 539] and classes.heights[0].tolist() == [1.0, 0.2]
    assert classes.positions[1].tolist() == [44, 347, 512]


def test_a_peak_list_saved_with_a_byte_order_mark_reads_the_same(tmp_path):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark: with or without the header
    row, the classes are the file's names, not a name with an invisible character."""
    rows = "TiO2-anatase,144,100\r\nTiO2-anatase,639,20\r\nTiO2-rutile,447,100\r\n"
    for header in ("class,position,height\r\n", ""):
        table = tmp_path / f"peaks{len(header)}.csv"
        table.write_bytes(("\ufeff" + header + rows).encode("utf-8"))
        classes = phases.peak_list_classes(
            table, n_points=1001, axis_range=(100, 1100), unit="cm-1"
        )
        assert classes.metadata["names"] == ["TiO2-anatase", "TiO2-rutile"], header
        assert classes.positions[0].tolist() == [44, 539]


def test_a_peak_list_header_of_other_names_and_errors_at_their_line(tmp_path):
    """A header of one's own words (phase, 2theta, intensity) is a header, as `class, position,
    height` is (it was refused as row 1); a bad row is named by its line in the file (it was
    counted without the comments and the header: "row 2" for line 5)."""
    rows = "# from the ICDD cards\nNaCl,31.7,100\nNaCl,45.4,55\nKCl,28.3,100\nKCl,40.5,60\n"
    table = tmp_path / "peaks.csv"
    table.write_text("phase,2theta,intensity\n" + rows)
    classes = phases.peak_list_classes(table, n_points=501, axis_range=(20, 70), unit="2theta")
    assert classes.metadata["names"] == ["NaCl", "KCl"]
    table.write_text("phase,2theta,intensity\n# from the ICDD cards\nNaCl,31.7,100\nNaCl,45.4\n")
    with pytest.raises(
        ClassesError, match=r"peaks.csv: line 4 \['NaCl', '45.4'\] is not 'class, position, height'"
    ):
        phases.peak_list_classes(table, n_points=501, axis_range=(20, 70), unit="2theta")


def test_a_peak_list_of_semicolons_quotes_or_indented_comments_reads_the_same(tmp_path):
    """Spreadsheet exports: semicolons (the "CSV" of European locales, with decimal commas or
    points), quoted cells (also after a space: `"NaCl", "31.7"`) and indented comments read as
    the plain list does; semicolons were one cell (line 1 refused), `"a", "31.7"` a header."""
    plain = "NaCl,31.7,100\nNaCl,45.4,55\nKCl,28.3,100\nKCl,40.5,60\n"
    exports = {
        "semicolons.csv": "phase;2theta;intensity\nNaCl;31,7;100\nNaCl;45,4;55\n"
        "KCl;28,3;100\nKCl;40,5;60\n",
        "semicolon-points.csv": "NaCl;31.7;100\nNaCl;45.4;55\nKCl;28.3;100\nKCl;40.5;60\n",
        "quoted.csv": '"phase","2theta","intensity"\n"NaCl","31.7","100"\n"NaCl","45.4","55"\n'
        '"KCl","28.3","100"\n"KCl","40.5","60"\n',
        "quoted-spaced.csv": '"NaCl", "31.7", "100"\n"NaCl", "45.4", "55"\n'
        '"KCl", "28.3", "100"\n"KCl", "40.5", "60"\n',
        "indented.csv": "   # from the ICDD cards\n"
        + plain.replace("KCl,28", "\t# sylvite\nKCl,28"),
    }

    def read(name, text):
        (tmp_path / name).write_text(text)
        got = phases.peak_list_classes(
            tmp_path / name, n_points=501, axis_range=(20, 70), unit="2theta"
        )
        return (
            got.metadata["names"],
            [p.tolist() for p in got.positions],
            [h.tolist() for h in got.heights],
        )

    expected = read("plain.csv", plain)
    assert expected[0] == ["NaCl", "KCl"]
    for name, text in exports.items():
        assert read(name, text) == expected, name
    # a decimal comma in a comma-separated file stays refused, naming the file and its line
    (tmp_path / "commas.csv").write_text('phase,2theta,intensity\n"NaCl","31,7","100"\n')
    with pytest.raises(ClassesError, match=r"commas.csv: line 2 \['NaCl', '31,7', '100'\] is not"):
        phases.peak_list_classes(
            tmp_path / "commas.csv", n_points=501, axis_range=(20, 70), unit="2theta"
        )


def test_a_folder_of_structures_takes_upper_case_cif_files(tmp_path):
    nacl_cif(tmp_path, "halite")
    nacl_cif(tmp_path, "sylvite", a=6.29).rename(tmp_path / "sylvite.CIF")
    (tmp_path / "notes.txt").write_text("not a structure")
    assert [f.name for f in phases.structure_files(tmp_path)] == ["halite.cif", "sylvite.CIF"]


def tiny_phases(folder: Path, source: str) -> dict:
    """A tiny config of your own phases (two NaCl-type lattices and a CsCl one, or a peak list)."""
    cfg = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    dataset = {
        "source": source,
        "axis": {"range": [20, 60]},
        "n_points": 200,
        "seed": 3,
        "render": {"train_per_class": 8, "val_per_class": 4, "shift": 2, "sigma": [0.5, 1.0],
                   "xrd": {"strain": 0.002, "displacement": 0.1, "size": [20, 80],
                           "preferred_orientation": {"direction": [1, 1, 1], "r": [0.7, 1.0]}}},
        "test": {"sigma": 0.8, "shift": 1},
    }  # fmt: skip
    if source == "structures":
        nacl_cif(folder / "cifs", "halite", 5.640)
        nacl_cif(folder / "cifs", "sylvite", 6.293)
        nacl_cif(folder / "cifs", "periclase", 4.212)
        dataset["structures"] = "cifs"
    else:
        del dataset["render"]["xrd"]
        dataset["axis"]["unit"] = "ppm"
        (folder / "peaks.tsv").write_text(
            "class\tposition\theight\nA\t25\t1\nA\t40\t0.5\nB\t30\t1\nB\t50\t0.3\nC\t25\t1\nC\t45\t0.6\n"
        )
        dataset["peaks_file"] = "peaks.tsv"
    cfg["datasets"] = {"mine": dataset}
    models = {"cnn2": {"architecture": "cnn2"}, "vgg": {"architecture": "vgg"}}
    cfg["experiments"] = {"mine": {"dataset": "mine", "seeds": [0], "models": models}}
    return cfg


@pytest.mark.slow
@pytest.mark.parametrize("source", ["structures", "peaks"])
def test_a_real_run_from_your_own_phases(tmp_path, source):
    """CIFs (or a peak list) to tables and figures; classes named all the way to classify, which
    resamples a scan given in the dataset's axis units without --grid."""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "mine.yaml").write_text(yaml.safe_dump(tiny_phases(workdir, source)))
    snakemake(workdir, "--cores", "2", "--configfile", "mine.yaml")
    results = workdir / "results"
    assert (results / "tables" / "summary.csv").exists()
    assert (results / "figures" / "class_variation.png").stat().st_size > 0
    run = results / "runs" / "mine" / "cnn2" / "seed0"
    info = json.loads((run / "training.json").read_text())
    names = info["class_names"]
    assert info["axis"]["start"] == 20 and info["axis"]["stop"] == 60
    assert len(names) == 3 and (source != "structures" or "halite" in names)

    from specbench.data.splits import read_split

    from specbench.evaluation.predictions import class_names

    assert class_names(run / "predictions.parquet") == names
    confusions = pd.read_csv(results / "tables" / "confusions.csv", keep_default_na=False)
    assert set(confusions["name_a"]) | set(confusions["name_b"]) <= set(names)
    ambiguous = pd.read_csv(results / "datasets" / "mine" / "ambiguous_pairs.csv")
    assert {"name_a", "name_b"} <= set(ambiguous.columns)
    test = read_split(results / "datasets" / "mine" / "test.parquet")
    train = read_split(results / "datasets" / "mine" / "train.parquet")
    # crystallite-size broadening: every peak its own width, in the test split too
    assert (
        (source == "structures") == (test.peak_sigma is not None) == (train.peak_sigma is not None)
    )
    x = np.linspace(20, 60, 801)  # a measured scan: 4x finer, in the axis units
    y = np.interp(x, np.linspace(20, 60, 200), test.spectra[0])
    scan = tmp_path / "scan.xy"
    scan.write_text("# a measured scan\n" + "\n".join(f"{a:.3f} {b:.6f}" for a, b in zip(x, y)))
    out = tmp_path / "classes.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "specbench", "classify", str(run), str(scan), "-o", str(out)],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                             "PYTHONPATH": str(workdir / "src")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    row = out.read_text().splitlines()
    header = row[0].split(",")
    values = dict(zip(header, row[1].split(",")))
    assert values["predicted_name"] == names[int(values["predicted"])]
    assert values["name_1"] in names
    if source == "structures":
        rendering_after_xrd_edits(workdir)


def rendering_after_xrd_edits(workdir: Path) -> None:
    """What `snakemake -n` renders after an edit of render.xrd: the strain (training variation
    alone) re-renders the training splits, not the test split; the crystallite size (which the
    test peaks are broadened by, at the middle of the training's sizes) the test split too."""
    config = workdir / "mine.yaml"
    original = config.read_text()
    for key, value, test_too in (("strain", 0.004, False), ("size", [30, 80], True)):
        cfg = yaml.safe_load(original)
        cfg["datasets"]["mine"]["render"]["xrd"][key] = value
        config.write_text(yaml.safe_dump(cfg))
        plan = snakemake(workdir, "-n", "--configfile", "mine.yaml", "--config",
                         "replace_datasets=True").stdout  # fmt: skip
        rules = set(re.findall(r"^(?:local)?rule (\w+):", plan, flags=re.M))
        assert "render_spectra" in rules and "train_model" in rules, (key, rules)
        assert ("render_test_split" in rules) == test_too, (key, rules)
    config.write_text(original)


BAD = {
    "unreadable CIF": (
        lambda d, w: (w / "cifs" / "broken.cif").write_text("data_x\n_cell_length_a oops\n"),
        "broken.cif: not a readable crystal structure",
    ),
    "CIF of two structures": (  # pymatgen reads the first; the second was left out unsaid
        lambda d, w: (w / "cifs" / "salts.cif").write_text(
            nacl_cif(w / "two", "one", 5.1).read_text()
            + nacl_cif(w / "two", "two", 6.7).read_text()
        ),
        "salts.cif: 2 crystal structures (data blocks) in one file; a class is one structure, "
        "named by its file: put each in a file of its own",
    ),
    "generated settings on structures": (  # the line named peaks_file or classes, not generate
        lambda d, w: d.update(generate={"n_classes": 5}),
        "datasets.mine.generate is not used with source 'structures' (it takes `structures`)",
    ),
    "another source's file beside structures": (
        lambda d, w: d.update(peaks_file="peaks.tsv"),
        "datasets.mine.peaks_file is not used with source 'structures'",
    ),
    "duplicate class": (
        lambda d, w: shutil.copy(w / "cifs" / "halite.cif", w / "cifs" / "halite2.cif"),
        "have the same peaks on this grid",
    ),
    "empty peak list": (lambda d, w: (w / "peaks.tsv").write_text("\n"), "an empty peak list"),
    "position outside the axis range": (
        lambda d, w: (w / "peaks.tsv").write_text("A\t25\t1\nB\t70\t1\n"),
        "class 'B': peak at 70 outside the axis range [20, 60]",
    ),
    "no peak list": (  # the setting was not named: "datasets.mine: nowhere.tsv: no such ..."
        lambda d, w: d.update(peaks_file="nowhere.tsv"),
        "datasets.mine.peaks_file='nowhere.tsv': no such file (relative paths are taken from "
        "the working directory",
    ),
    "no structures": (
        lambda d, w: d.update(structures="nowhere"),
        "datasets.mine.structures='nowhere': no such file or folder (relative paths",
    ),
    "a missing structure of a list": (
        lambda d, w: d.update(structures=["cifs/halite.cif", "cifs/nowhere.cif"]),
        "datasets.mine.structures[1]='cifs/nowhere.cif': no such file or folder",
    ),
    "a folder of no structures": (
        lambda d, w: (w / "none").mkdir() or d.update(structures="none"),
        "datasets.mine.structures: none: no .cif files in this folder",
    ),
    "no texture direction": (
        lambda d, w: d["render"]["xrd"].update(
            preferred_orientation={"direction": [0, 0, 0], "r": [0.7, 1]}
        ),
        "the direction must not be [0, 0, 0]",
    ),
    "structures on another axis": (
        lambda d, w: d["axis"].update(unit="q"),
        "datasets.mine.axis.unit='q': the patterns of structures are in 2theta",
    ),
    "2theta beyond 180 degrees": (  # accepted before: no diffraction angle is above 180°
        lambda d, w: d["axis"].update(range=[10, 200]),
        "datasets.mine.axis.range=[10, 200]: 2theta (degrees) lies between 0 and 180",
    ),
    "axis range reversed": (
        lambda d, w: d["axis"].update(range=[60, 20]),
        "datasets.mine.axis.range=[60, 20]: start must be below stop",
    ),
    "size range reversed": (
        lambda d, w: d["render"]["xrd"].update(size=[50, 10]),
        "render.xrd.size=[50, 10]: smallest is larger than largest",
    ),
    # the rendering checks every dataset gets, your own phases' too
    "width range reversed": (
        lambda d, w: d["render"].update(sigma=[1.0, 0.5]),
        "datasets.mine.render.sigma=[1.0, 0.5]: low is larger than high",
    ),
    "pseudo-Voigt without eta": (
        lambda d, w: d["render"].update(peak_shape={"shape": "pseudo_voigt"}),
        "datasets.mine.render.peak_shape.eta is required",
    ),
}


@pytest.mark.parametrize("what", list(BAD))
def test_bad_inputs_are_refused_in_one_line_before_any_job(tmp_path, what, monkeypatch):
    change, words = BAD[what]
    source = "peaks" if "peak" in what or "position" in what else "structures"
    cfg = tiny_phases(tmp_path, source)
    change(cfg["datasets"]["mine"], tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(sbconfig.ConfigError) as err:
        validation.prepare_config(cfg, basedir=str(REPO))
    assert "\n" not in str(err.value) and words in str(err.value), str(err.value)


@pytest.mark.slow
def test_a_missing_input_of_your_phases_stops_snakemake_naming_the_setting(tmp_path):
    """`snakemake -n` with a peak list or a structure that is not there: one line naming the
    setting and the path (it said "datasets.mine: nowhere.tsv: no such peak list")."""
    workdir = copy_workflow(tmp_path / "wf")
    for source, setting, value, words in (
        (
            "peaks",
            "peaks_file",
            "nowhere.tsv",
            "datasets.mine.peaks_file='nowhere.tsv': no such file",
        ),
        (
            "structures",
            "structures",
            ["cifs/halite.cif", "cifs/nowhere.cif"],
            "datasets.mine.structures[1]='cifs/nowhere.cif': no such file or folder",
        ),
    ):
        cfg = tiny_phases(workdir, source)
        cfg["datasets"]["mine"][setting] = value
        (workdir / "mine.yaml").write_text(yaml.safe_dump(cfg))
        proc = snakemake(workdir, "-n", "--cores", "1", "--configfile", "mine.yaml", check=False)
        assert proc.returncode != 0, source
        output = proc.stdout + proc.stderr  # snakemake writes its errors to stdout
        lines = [line for line in output.splitlines() if "Invalid config" in line]
        assert len(lines) == 1 and words in lines[0], output[-3000:]
        assert f"working directory {workdir}" in lines[0], lines[0]


def test_missing_pymatgen_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    cfg = tiny_phases(tmp_path, "structures")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "pymatgen", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pymatgen.core", None)
    monkeypatch.setitem(sys.modules, "pymatgen.analysis.diffraction.xrd", None)
    with pytest.raises(sbconfig.ConfigError, match=r"needs pymatgen.*pip install -e '\.\[xrd\]'"):
        validation.prepare_config(cfg, basedir=str(REPO))
