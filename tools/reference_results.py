"""Ship a finished run set into reference-results/<name>/, or regenerate the results section.

  python tools/reference_results.py ship NAME --results results --config config/paper.yaml \
      --title "..." --command "snakemake ..." --hardware "..." --threads 1 --wall-time "1 h 10 min" \
      [--commit TRAINED_AT]
  python tools/reference_results.py readme        # rewrites docs/fidelity.md "Results at the
                                                  # published scale" (the README links it)

Logic: specbench.results.shipped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from specbench.results import shipped  # noqa: E402
from specbench.workflow import validation  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ship")
    s.add_argument("name")
    s.add_argument("--results", default="results")
    s.add_argument("--config", required=True)
    s.add_argument("--title", required=True)
    s.add_argument("--command", required=True)
    s.add_argument("--hardware", required=True)
    s.add_argument("--threads", default="")
    s.add_argument("--wall-time", required=True)
    s.add_argument("--date", default=datetime.date.today().isoformat())
    s.add_argument(
        "--commit",
        help="the commit the runs were trained at (a GPU campaign's versions.txt; default: the "
        "checkout's HEAD, which provenance.json also records as shipped_at)",
    )
    s.add_argument("--note", default="")
    s.add_argument(
        "--scale",
        default="published",
        help="'published' (listed in docs/fidelity.md's results section) or e.g. 'laptop'",
    )
    s.add_argument("--versions", help="JSON file of package versions (default: a training.json)")
    r = sub.add_parser("readme")
    r.add_argument("--root", default="reference-results")
    args = parser.parse_args(argv)
    if args.cmd == "readme":
        page = REPO / "docs" / "fidelity.md"
        changed = shipped.update_readme(page, args.root, link_root="../reference-results/")
        print(f"{page.relative_to(REPO)} {'updated' if changed else 'already up to date'}")
        return 0
    versions = {}
    if args.versions:
        versions = json.loads(Path(args.versions).read_text())
    else:
        infos = sorted(Path(args.results, "runs").rglob("training.json"))
        if infos:
            versions = json.loads(infos[0].read_text()).get("versions", {})
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    provenance = {
        "title": args.title,
        "command": args.command,
        "hardware": args.hardware,
        "threads": args.threads,
        "date": args.date,
        "wall_time": args.wall_time,
        "commit": args.commit or commit,
        "shipped_at": commit,
        "versions": versions,
        "note": args.note,
        "scale": args.scale,
    }
    config = yaml.safe_load(Path(args.config).read_text())
    validation.prepare_config(config, basedir=str(REPO))  # the dataset definitions, filled
    dest = shipped.ship(
        args.results,
        REPO / "reference-results" / args.name,
        provenance,
        args.config,
        datasets=config["datasets"],
    )
    print(f"shipped {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
