"""What both CLIs share: common options, running a main with signals, printing the result."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import click

from libs import constants as c
from libs import logging as ingest_logging
from libs.errors import PermanentError, RetryBudgetExhausted, UserError

F = TypeVar("F", bound=Callable[..., Any])


class OneLineUsageError(click.UsageError):
    """click's usage error in our style: ``error: <message> (see 'PROG --help')``, exit 2."""

    def show(self, file: Any = None) -> None:
        prog = self.ctx.command_path if self.ctx is not None else "the command"
        message = self.format_message().rstrip(".")
        click.echo(f"error: {message} (see '{prog} --help')", err=True)


class Command(click.Command):
    """A click command whose usage errors (missing or bad option) look like our user errors."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise OneLineUsageError(exc.format_message(), exc.ctx or ctx) from exc


class Routed(Command):
    """A command whose first argument may name a subcommand of ``routes`` (``producer watch
    ...``); any other arguments are the command's own (``producer --file F``), exactly as
    before it had subcommands. A routed subcommand's usage and errors say ``PROG NAME``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.routes: dict[str, click.Command] = {}

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        if args and args[0] in self.routes:
            name = args[0]
            path = " ".join(part for part in (info_name, name) if part)
            return self.routes[name].make_context(path, args[1:], parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.command is not self:  # routed: the subcommand's context
            return ctx.command.invoke(ctx)
        return super().invoke(ctx)


class Group(click.Group):
    """A click group whose usage errors, its subcommands' and an unknown command's, are one
    line as :class:`Command`'s; subcommands and subgroups get these classes too."""

    command_class = Command
    group_class = type  # subgroups: this class

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            click.echo(ctx.get_help())  # no command: the help, as click does, on stdout
            ctx.exit(c.EXIT_USAGE)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise OneLineUsageError(exc.format_message(), exc.ctx or ctx) from exc

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise OneLineUsageError(exc.format_message(), exc.ctx or ctx) from exc


@overload
def common_options(func: F) -> F: ...
@overload
def common_options(*, dataset: bool = ...) -> Callable[[F], F]: ...
def common_options(func: F | None = None, *, dataset: bool = True) -> F | Callable[[F], F]:
    """Options every process takes: broker, queue, dataset (unless ``dataset=False``: the
    consumer's --dataset is a filter of its own), logging."""
    options = [
        click.option("--amqp-url", envvar="AMQP_URL", default=c.DEFAULT_AMQP_URL,
                     show_default=True, help="RabbitMQ URL (amqp:// or amqps://)."),
        click.option("--queue", envvar="INGEST_QUEUE", default=c.DEFAULT_QUEUE,
                     show_default=True,
                     help="Queue name; the exchange has the same name, dead letters go to "
                          "QUEUE.dlx / QUEUE.dlq."),
        click.option("--delivery-limit", envvar="INGEST_DELIVERY_LIMIT", type=int,
                     default=c.DEFAULT_DELIVERY_LIMIT, show_default=True,
                     help="Deliveries of one message before it is dead-lettered "
                          "(x-delivery-limit of the quorum queue)."),
        *([click.option("--dataset", envvar="INGEST_DATASET", default=c.DEFAULT_DATASET,
                        show_default=True, help="Target dataset (table definition).")]
          if dataset else []),
        click.option("--log-level", envvar="LOG_LEVEL", default="info", show_default=True,
                     type=click.Choice(["debug", "info", "warning", "error"],
                                       case_sensitive=False)),
        click.option("--log-format", envvar="LOG_FORMAT", default="auto", show_default=True,
                     type=click.Choice(["auto", "json", "console"]),
                     help="auto: console on a terminal, JSON lines otherwise."),
    ]

    def decorate(target: F) -> F:
        for option in reversed(options):
            target = option(target)
        return target

    return decorate if func is None else decorate(func)


def fail(message: str, code: int) -> None:
    """One clear line on stderr, no traceback."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def print_result(result: dict[str, Any]) -> None:
    """The result: one JSON line on stdout."""
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def setup_logging(level: str, fmt: str) -> None:
    ingest_logging.configure(level, fmt)  # type: ignore[arg-type]


T = TypeVar("T")


def run_main(make: Callable[[], Awaitable[T]], on_signal: Callable[[int], None]) -> T:
    """asyncio.run with SIGINT/SIGTERM routed to ``on_signal``.

    User and configuration errors (every PermanentError that gets here) are one line and exit 2;
    a spent retry budget is one line and exit 1. No traceback for either.
    """

    async def runner() -> T:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        return await make()

    try:
        return asyncio.run(runner())
    except (UserError, PermanentError) as exc:
        fail(str(exc), c.EXIT_USAGE)
    except RetryBudgetExhausted as exc:
        fail(str(exc), c.EXIT_FAILED)
    raise AssertionError("unreachable")
