"""Odd input and awkward files: bad URLs, out-of-range config, writes through links.

Every case runs the real command and checks what a user would see: the exit status
(1 or 2, never 70) and one line on stderr, or the file where it belongs.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from tests.faults import Row, scenario
from tests.faults.home import Home, Ran, clean_one_line


def _one_line_refusal(case: str, ran: Ran, codes: tuple[int, ...] = (1, 2)) -> Row:
    err = ran.err.rstrip("\n")
    ok = (
        ran.code in codes
        and "\n" not in err
        and clean_one_line(err)
        and "internal error" not in err
        and "Traceback" not in err
    )
    return Row(case, f"exit {ran.code}: {err[:150]!r}", ok)


@scenario(ci=True)
def bad_urls() -> list[Row]:
    """`veille add` and `veille import` with URLs nothing can fetch."""
    cases = {
        "add: port 99999": "http://127.0.0.1:99999/feed",
        "add: invalid IDN host": "http://xn--a.example/feed",
        "add: non-UTF-8 argument": os.fsdecode(b"https://\xff\xfe.example/feed"),
        "add: unbalanced IPv6 literal": "http://[::1/x",
        "add: javascript: URL": "javascript:alert(1)",
    }
    rows: list[Row] = []
    with Home() as home:
        for case, url in cases.items():
            rows.append(_one_line_refusal(case, home.veille("add", url)))
        opml = home.root / "bad.opml"
        opml.write_text(
            '<opml version="2.0"><body><outline text="x" xmlUrl="http://[::1/x"/></body></opml>'
        )
        ran = home.veille("import", str(opml))
        rows.append(_one_line_refusal("import: xmlUrl http://[::1/x", ran))
    return rows


@scenario(ci=True)
def config_ranges() -> list[Row]:
    """Out-of-range config values stop veille with one line naming the key and line."""
    cases = {
        "config: fetch.workers = 100000": "[fetch]\nworkers = 100000\n",
        "config: fetch.total_timeout = nan": "[fetch]\ntotal_timeout = nan\n",
        "config: fetch.max_body_mb = inf": "[fetch]\nmax_body_mb = inf\n",
        "config: keep_days = 10^10": "keep_days = 10000000000\n",
        "config: refresh_minutes = 10^10": "refresh_minutes = 10000000000\n",
    }
    rows: list[Row] = []
    for case, text in cases.items():
        with Home() as home:
            home.write_config(text)
            # `feeds`, not `refresh`: were the check missing, refresh would fork the
            # 100,000 parser processes this case is about.
            ran = home.veille("feeds")
            key = case.split(": ", 1)[1].split(" =")[0]
            row = _one_line_refusal(case, ran, (2,))
            rows.append(row._replace(passed=row.passed and f"{key} (line " in ran.err))
    return rows


def _device(folder: Path, name: str, minor: int) -> Path | None:
    """/dev/NAME, or as root a private copy (a broken writer must not replace the real one)."""
    if os.geteuid() != 0:
        return Path("/dev") / name
    path = folder / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except OSError:
        return None
    return path


@scenario(ci=True)
def writes_through_links() -> list[Row]:
    """`export`, `digest` and `account add` into symlinks, FIFOs, devices, missing folders."""
    rows: list[Row] = []
    with Home() as home:
        synced = home.root / "synced"
        synced.mkdir()
        config_target = synced / "veille.toml"
        config_target.write_text("keep_days = 30\n")
        home.config_file.parent.mkdir(parents=True)
        home.config_file.symlink_to(config_target)
        ran = home.veille("account", "add", "command", "notes", "--command", "true")
        kept = home.config_file.is_symlink() and "[accounts.notes]" in config_target.read_text()
        rows.append(
            Row(
                "account add, config.toml a symlink",
                f"exit {ran.code}; still a link: {home.config_file.is_symlink()}",
                ran.code == 0 and kept,
            )
        )
        link = home.root / "feeds.opml"
        link.symlink_to(synced / "feeds.opml")
        ran = home.veille("export", str(link))
        ok = ran.code == 0 and link.is_symlink() and (synced / "feeds.opml").exists()
        rows.append(Row("export to a symlink", f"exit {ran.code}; link kept: {ok}", ok))

        fifo = home.root / "pipe"
        os.mkfifo(fifo)
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
        reader.start()
        ran = home.veille("digest", "--out", str(fifo), timeout=30)
        reader.join(10)
        ok = ran.code == 0 and bool(got) and stat.S_ISFIFO(fifo.lstat().st_mode)
        rows.append(Row("digest into a FIFO", f"exit {ran.code}; read {len(b''.join(got))} B", ok))

        null = _device(home.root, "null", 3)
        if null is not None:
            ran = home.veille("export", str(null))
            ok = ran.code == 0 and stat.S_ISCHR(null.lstat().st_mode)
            rows.append(Row("export to /dev/null", f"exit {ran.code}; still a device: {ok}", ok))
        full = _device(home.root, "full", 7)
        if full is not None:
            rows.append(
                _one_line_refusal("export to a full disk", home.veille("export", str(full)))
            )
        missing = home.root / "nope" / "feeds.opml"
        rows.append(
            _one_line_refusal("export into a missing folder", home.veille("export", str(missing)))
        )
    return rows
