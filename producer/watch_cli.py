"""``producer watch SOURCE``: a thin click command over WatchSettings (producer/watch.py).

It takes the producer's own options (dataset or table, mode, format, dialect, batches,
services, ...: every file's run uses them), copied from the ``producer`` command so that an
option added there applies here too, less those about one given file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import click

from libs import constants as c
from libs.cli import Command, fail, print_result, run_main, setup_logging
from libs.errors import UserError
from libs.settings import DEFAULT_WATCH_INTERVAL_S, WATCH_IGNORED, ProducerSettings, WatchSettings
from producer.inbox import member

# Options of `producer` that are about one given file (or a one-off run), not a watch.
FILE_ONLY: Final = frozenset({"file", "dry_run", "rejects_out", "wait", "wait_timeout",
                              "source_name", "job_file", "progress"})

HELP = f"""Publish each complete new file of SOURCE once, as its own job, until stopped.

SOURCE is a folder (or a remote prefix such as s3://bucket/in/ where a source module reads
that scheme). It is listed every --interval seconds; only the files directly in it are taken
(not subfolders), oldest first, one at a time, each with the options below exactly as
`producer --file FILE` would publish it (its job id from its content, the dataset and the
options; its source name: the file's name).

\b
- A file is taken once its size and modification time are the same on two polls in a row:
  one still being written is left until it is stable. Better still, write it under a
  temporary name and rename it when complete: names matching {' '.join(WATCH_IGNORED)} are
  never taken. --pattern GLOB (repeatable) takes only the names it matches.
- A file whose job is sealed already (every batch published, by this watcher, another one or
  a plain producer run) is skipped: the database decides, so a restart or a flushed Redis
  publishes nothing again. A job not sealed yet resumes from its saved offset.
- Several watchers may watch one folder: each content is claimed by one of them while it is
  published (a PostgreSQL advisory lock); the others skip it and look again later.
- --done-dir (a folder; --done-prefix for a remote source) takes each file once its job is
  sealed, never before; a run that fails leaves it in place. A refused file (a bad header, a
  line past the record limit, ...) is logged and its summary printed once, then left alone
  until it changes (--failed-dir moves it aside).

Output: one JSON line on stdout per file published (the producer's summary; "status" ok,
already_done, refused, gave_up or interrupted); logs on stderr. SIGTERM or SIGINT stops the
file in flight within a moment, its offset saved (the next start resumes it), and exits 0. A
broker or database outage while publishing only delays the files (the next poll tries
again). Exit 2: a bad option, a SOURCE that is not a folder, or a dataset or table refused at
start; exit 1: PostgreSQL or RabbitMQ unreachable at start for longer than --retry-budget."""


def _own_params() -> list[click.Parameter]:
    return [
        click.Argument(["source"], envvar="INGEST_WATCH_SOURCE", metavar="SOURCE"),
        click.Option(["--interval"], envvar="INGEST_WATCH_INTERVAL", type=float,
                     default=DEFAULT_WATCH_INTERVAL_S, metavar="S",
                     help="Seconds between two listings of SOURCE; a file is taken once it is "
                          "the same on two of them."),
        click.Option(["--pattern", "patterns"], envvar="INGEST_WATCH_PATTERN", multiple=True,
                     metavar="GLOB", help="Take only names matching GLOB (fnmatch, "
                                          "case-sensitive; repeatable) [default: every name]."),
        click.Option(["--done-dir"], envvar="INGEST_WATCH_DONE_DIR", default=None,
                     type=click.Path(path_type=Path, file_okay=False),
                     help="Move each file here once its job is sealed (made if missing).  "
                          "[default: files stay]"),
        click.Option(["--done-prefix"], envvar="INGEST_WATCH_DONE_PREFIX", default=None,
                     metavar="URL", help="For a remote SOURCE: move each file under this "
                                         "prefix once its job is sealed."),
        click.Option(["--failed-dir"], envvar="INGEST_WATCH_FAILED_DIR", default=None,
                     type=click.Path(path_type=Path, file_okay=False),
                     help="Move refused files here (made if missing)  [default: they stay, "
                          "not taken again until they change]"),
    ]


def watch_command(file_command: click.Command,
                  make_settings: Callable[[Mapping[str, Any]], ProducerSettings]
                  ) -> click.Command:
    """The ``watch`` command: its own parameters and ``file_command``'s but FILE_ONLY;
    ``make_settings`` builds each file's ProducerSettings from the parsed options."""
    shared = [param for param in file_command.params if param.name not in FILE_ONLY]

    def watch(**params: Any) -> None:
        from producer.watch import Watcher  # the run's modules: not for --help

        setup_logging(params["log_level"], params["log_format"])
        try:
            settings = WatchSettings(
                source=params["source"], producer=make_settings(
                    {**params, "file": member(params["source"], "FILE")}),
                interval=params["interval"], patterns=tuple(params["patterns"]),
                done_dir=params["done_dir"], done_prefix=params["done_prefix"],
                failed_dir=params["failed_dir"])
            watcher = Watcher(settings, print_result)
        except UserError as exc:
            fail(str(exc), c.EXIT_USAGE)
        run_main(watcher.run, watcher.handle_signal)
        raise SystemExit(c.EXIT_OK)

    return Command("watch", callback=watch, params=[*_own_params(), *shared], help=HELP,
                   context_settings={"show_default": True, "max_content_width": 100})
