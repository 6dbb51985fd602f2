"""The `veille` command line.  With no subcommand it opens the full-screen app.

This contract is used by other tools: keep the names.  ``--json`` always means
JSON Lines (one object per line).  Errors are one line on stderr; tracebacks go
to the log file only.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence

from veille import __version__
from veille.cli.context import Ctx, Terminated
from veille.config import ConfigError, load_config
from veille.domain.errors import VeilleError
from veille.paths import Paths, get_paths
from veille.render.hygiene import clean_line
from veille.util.urls import shown

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
    # Here, not at the top: `veille` alone (the app) never imports the commands'
    # modules and what they bring (HTTP clients, accounts, the refresh runner).
    from veille.cli import account, article, feeds, items, rules, share

    for module in (feeds, items, rules, share, account, article):
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
    # A log that cannot be written (full disk, read-only) must not print
    # "--- Logging error ---" and a traceback on the user's terminal.
    logging.raiseExceptions = False
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # never log URLs with tokens


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM outside a refresh: unwind like ctrl+c, so the store is flushed."""
    raise Terminated("terminated")


def main(argv: Sequence[str] | None = None) -> int:
    process = argv is None  # the `veille` command itself, not a test calling main()
    argv = sys.argv[1:] if argv is None else list(argv)
    # No argument: the app, whose first paint should not wait for the parser
    # of every command (~0.1-0.2 s of imports).
    args = build_parser().parse_args(argv) if argv else argparse.Namespace(command=None)
    paths = get_paths()
    ctx: Ctx | None = None
    code = 0
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        try:
            paths.ensure()
        except OSError as exc:  # a file where a folder goes, no permission, a full disk
            where = shown(str(exc.filename)) if exc.filename else "its folders"
            why = clean_line(exc.strerror or str(exc))
            print(f"veille: cannot create {where}: {why}", file=sys.stderr)
            return 1
        _setup_logging(paths)
        config = load_config(paths.config_file)
        ctx = Ctx(paths, config)
        if args.command is None:
            from veille.tui.app import run_app

            # Lazy: the newest items now, older ones in a thread, so the first
            # screen paints before 100k items are read.
            store = ctx.open_store(lazy=LAZY_FIRST_ITEMS)
            return run_app(paths, config, store)
        code = int(args.func(ctx, args) or 0)
    except ConfigError as exc:
        print(f"veille: {exc}", file=sys.stderr)
        code = 2
    except Terminated:
        print("veille: terminated", file=sys.stderr)
        code = 143
    except VeilleError as exc:
        print(f"veille: {exc}", file=sys.stderr)
        code = getattr(exc, "code", 1)
    except KeyboardInterrupt:
        print("veille: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        log.error("unexpected error:\n%s", traceback.format_exc())
        print(
            f"veille: internal error: {type(exc).__name__}: {exc} (details in {paths.log_file})",
            file=sys.stderr,
        )
        code = 70
    finally:
        # Closing saves what the run did: a ctrl+c or SIGTERM now waits for it
        # (raised mid-flush it would lose it, or turn into "veille: terminated"
        # with exit 1), then says so with its usual exit code.
        deferred: list[int] = []
        previous_int = signal.signal(signal.SIGINT, lambda signum, frame: deferred.append(signum))
        signal.signal(signal.SIGTERM, lambda signum, frame: deferred.append(signum))
        if ctx is not None:
            try:
                ctx.close()
            except VeilleError as exc:
                if code == 0:  # an error already said is not said twice
                    print(f"veille: {exc}", file=sys.stderr)
                    code = 1
            except Exception:
                log.error("closing the store failed:\n%s", traceback.format_exc())
                code = code or 70
        if deferred and code in (0, 130, 143):
            interrupted = deferred[0] == signal.SIGINT
            if code == 0:
                print(f"veille: {'interrupted' if interrupted else 'terminated'}", file=sys.stderr)
            code = 130 if interrupted else 143
        # The process only exits from here: a ctrl+c now would print a traceback
        # from the interpreter's shutdown (atexit) over a run that completed.
        signal.signal(signal.SIGINT, signal.SIG_IGN if process else previous_int)
        # In a process of its own the work is done and saved: a SIGTERM in the
        # last milliseconds must not turn a finished run into "killed".
        signal.signal(signal.SIGTERM, signal.SIG_IGN if previous is signal.SIG_DFL else previous)
    if process and code in (130, 143):
        # Interrupted, and what was done is saved: exit now.  The interpreter's
        # own exit joins the parser pool's threads, which a signal to the whole
        # process group can leave stuck (seen once in CI: no exit 5 s after it).
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    return code


if __name__ == "__main__":  # `python -m veille.cli.main`: run the imported module's main, so
    from veille.cli.main import main as _main  # its exception classes are the ones raised

    sys.exit(_main())
