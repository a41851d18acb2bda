"""Stage 1, the data (rules/datasets.smk): classes, their spectra, the Parquet splits.

- :mod:`.classes`: the classes of a dataset (generated, the 27 challenge classes, a classes file);
- :mod:`.variants`: test variants (shift, height, width); :mod:`.peaks`: peak shapes;
  :mod:`.artifacts`: measurement artifacts (noise, baseline, ...);
- :mod:`.render`: the training, validation and test spectra of a dataset, planned and rendered;
  :mod:`.dataset_files`: a dataset's files, one function per rule (render_spectra: training and
  validation splits; render_test_split; find_ambiguous_pairs);
- :mod:`.splits`: the Parquet split format, its writer and readers (:mod:`.columns`: the column
  kinds, Arrow to numpy);
- :mod:`.phases`, :mod:`.xrd`: your own phases (CIF files, peak lists) and their X-ray variation;
- :mod:`.preprocess`: a split as the models see it (each spectrum divided by its maximum).

May import: specbench.core.
This file imports none of the modules.
"""
