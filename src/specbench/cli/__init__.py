"""The ``specbench`` command (``python -m specbench``): what a user runs on a trained run.

- :mod:`.main`: the command line (``classify``, ``info``, ``check-model``);
- :mod:`.classify`: classify a user's spectra with a trained run; :mod:`.spectra_files` and
  :mod:`.resample`: reading instrument exports and putting them on the run's grid;
- :mod:`.modelcheck`: a model's parameters, MACs and batch time (``check-model``).

May import: specbench.core, specbench.models, specbench.data, specbench.training,
specbench.evaluation, specbench.results (not specbench.workflow).
This file imports none of the modules.
"""
