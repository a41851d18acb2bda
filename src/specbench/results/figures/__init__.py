"""Figures of the workflow (seaborn/matplotlib, Agg backend), one module per figure.

Each figure's function is called by the script of its rule (rules/results.smk); all take paths
and write `png` and `svg`; `style` is the figure's entry of the config's ``figures`` section:

- :mod:`.misclassifications` -- test error per architecture, one point per seed, with the
  published mean and range (the paper's swarm plot).
- :mod:`.activation` -- challenge test accuracy, linear vs ReLU hidden dense layers, per
  architecture, with the published ranges as grey bars.
- :mod:`.modifications` -- modification variants beside their original architecture.
- :mod:`.loss_curves` -- validation loss per epoch, mean over seeds and their range.
- :mod:`.class_variation` -- a class's reference spectrum with two training variants, and one
  peak's position and height (before broadening) in the training spectra against the test
  variants.
- :mod:`.confused_pair` -- the most confused class pair's spectra and one of the model's
  mistakes on them.

Shared helpers: :mod:`.style` (the style: defaults and checks from the config schema, seaborn
theme), :mod:`.layout` (saving, legends, titles and labels that do not cover data, and the
layout checker ``layout_problems``), :mod:`.runs` (runs.csv and published values of a figure),
:mod:`.spectra` (Parquet columns, test variant codes). Outputs are reproducible: no dates or
software versions in the files, fixed SVG ids.

This file imports none of the modules: a script that imports one figure's module loads (and its
rule's code inputs, specbench.workflow.codedeps, count) that module and the shared helpers, not every
figure.
"""
