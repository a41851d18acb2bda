"""specbench: benchmark neural networks for spectroscopic classification on synthetic spectra.

Re-implements Schuetzke et al. 2023 (npj Comput. Mater. 9) as a Snakemake workflow; this package
holds every piece of logic that the workflow's scripts call.
"""

__version__ = "0.1.0"
