"""``python -m infra.deploy.kubernetes render [options]``: the manifests, ready to apply.

Without ``--out`` one YAML stream goes to stdout; with it, one file per resource group,
numbered in apply order (docs/deploy-kubernetes.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from infra.deploy.kubernetes.render import Options, as_stream, render


def parse(argv: list[str]) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy.kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("render", help="render the manifests")
    defaults = Options()
    for field in fields(Options):
        flag = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            cmd.add_argument(flag, action="store_true", help=f"the {field.name} variant")
        else:
            cmd.add_argument(flag, default=getattr(defaults, field.name),
                             help=f"default: {getattr(defaults, field.name)}")
    cmd.add_argument("--out", type=Path, help="folder for one file per group (else stdout)")
    args = parser.parse_args(argv)
    options = Options(**{f.name: getattr(args, f.name) for f in fields(Options)})
    return options, args.out


def main(argv: list[str]) -> int:
    options, out = parse(argv)
    try:
        files = render(options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if out is None:
        sys.stdout.write(as_stream(files))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    print("\n".join(str(out / name) for name in files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
