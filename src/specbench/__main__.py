"""``python -m specbench``: the ``specbench`` command (specbench.cli.main)."""

from specbench.cli.main import main

raise SystemExit(main())
