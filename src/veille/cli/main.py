"""The `veille` command line.  With no subcommand it opens the full-screen app.

This contract is used by other tools: keep the names.  ``--json`` always means
JSON Lines (one object per line).  Errors are one line on stderr; tracebacks go
to the log file only.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from veille import __version__
from veille.cli import feeds, items, share
from veille.cli.context import Ctx, UserError
from veille.config import ConfigError, load_config
from veille.domain.errors import VeilleError
from veille.paths import Paths, get_paths
from veille.store.store import Store, StoreError

log = logging.getLogger("veille")
LAZY_FIRST_ITEMS = 3000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="veille",
        description="A terminal feed reader for curators. With no command, opens the app.",
        epilog="Files live under platformdirs' folders; VEILLE_HOME=DIR puts them all under DIR.",
    )
    p.add_argument("--version", action="version", version=f"veille {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    for module in (feeds, items, share):
        module.register(sub)
    return p


def _setup_logging(paths: Paths) -> None:
    try:
        paths.state.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(paths.log_file, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # never log URLs with tokens


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = get_paths()
    ctx: Ctx | None = None
    try:
        paths.ensure()
        _setup_logging(paths)
        config = load_config(paths.config_file)
        ctx = Ctx(paths, config)
        if args.command is None:
            from veille.tui.app import run_app

            # Lazy: the newest items now, older months in a thread, so the first
            # screen paints before 100k items are read.
            ctx._store = Store(paths.store, lazy=LAZY_FIRST_ITEMS)
            return run_app(paths, config, ctx.store)
        return int(args.func(ctx, args) or 0)
    except ConfigError as exc:
        print(f"veille: {exc}", file=sys.stderr)
        return 2
    except (UserError, StoreError, VeilleError) as exc:
        # VeilleError: a reason meant for the user (a bad URL, a file that cannot be
        # written) that no command turned into a UserError.
        print(f"veille: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)
    except KeyboardInterrupt:
        print("veille: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        log.error("unexpected error:\n%s", traceback.format_exc())
        print(
            f"veille: internal error: {type(exc).__name__}: {exc} (details in {paths.log_file})",
            file=sys.stderr,
        )
        return 70
    finally:
        if ctx is not None:
            try:
                ctx.close()
            except Exception:
                log.error("closing the store failed:\n%s", traceback.format_exc())


if __name__ == "__main__":  # `python -m veille.cli.main`: run the imported module's main, so
    from veille.cli.main import main as _main  # its exception classes are the ones raised

    sys.exit(_main())
