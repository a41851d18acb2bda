"""``python -m specbench``: the ``specbench`` command (specbench.cli)."""

from specbench.cli import main

raise SystemExit(main())
