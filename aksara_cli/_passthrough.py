"""``aksara test``'s command line: its own options for Click, every other word for pytest.

pytest and its plugins define options that ``aksara test`` cannot list without
importing them all, and ``--help`` must stay fast. So the command line is split
before Click parses it: the options ``aksara test`` defines, with their values,
go to Click; every other word (paths, node ids, pytest's and plugins' options
and their values) goes to pytest in the order given. A word after an unknown
option stays right after it, so pytest decides whether it is that option's
value or a path, exactly as on its own command line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import click

__all__ = ["Arity", "PassThroughCommand", "option_arities", "split_argv"]

Arity = Literal["flag", "value", "optional"]


def split_argv(argv: Sequence[str], arities: Mapping[str, Arity]) -> tuple[list[str], list[str]]:
    """``(ours, theirs)``: the options in ``arities`` with their values, and everything else.

    ``theirs`` keeps its order; everything after ``--`` is theirs. A cluster of
    short flags is split while it starts with one of ours (``-vx``), and left
    whole for pytest from its first letter that is not ours (``-vrs`` gives
    ``-v`` and ``-rs``): our short options are pytest's own letters anyway.
    """
    ours: list[str] = []
    theirs: list[str] = []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            theirs += words
            break
        name = _option_name(word)
        arity = arities.get(name) if name is not None else None
        if name is None or arity is None:
            theirs.append(word)
        elif arity == "flag":
            ours.append(name if not word.startswith("--") else word)
            if not word.startswith("--") and len(word) > 2:
                words.insert(0, "-" + word[2:])
        elif word == name and words and (arity == "value" or not _looks_like_option(words[0])):
            ours += [word, words.pop(0)]  # a value option takes the next word, as Click does
        else:
            ours.append(word)  # value attached (-kexpr, --maxfail=2), or missing: Click says so
    return ours, theirs


def _option_name(word: str) -> str | None:
    if word.startswith("--"):
        return word.partition("=")[0]
    if word.startswith("-") and len(word) > 1:
        return word[:2]
    return None


def _looks_like_option(word: str) -> bool:
    """Click's rule for an optional value: a following option is not taken as the value."""
    return word.startswith("-") and len(word) > 1


def option_arities(params: Iterable[click.Parameter]) -> dict[str, Arity]:
    """Every option name of ``params`` and whether it takes a value."""
    arities: dict[str, Arity] = {}
    for param in params:
        if not isinstance(param, click.Option):
            continue
        info = param.to_info_dict()
        arity: Arity
        if info["is_flag"] or info["count"]:
            arity = "flag"
        elif info["flag_value"] is not None and not isinstance(info["flag_value"], bool):
            # --cov or --cov=PKG. Click 8.1 sets flag_value to `not default` (a bool) on
            # every option, 8.2 leaves it None; the value of an optional one is a string.
            arity = "optional"
        else:
            arity = "value"
        arities.update(dict.fromkeys((*param.opts, *param.secondary_opts), arity))
    return arities


class PassThroughCommand(click.Command):
    """A command that parses its own options and hands every other word to one argument.

    The argument (``passthrough``, a ``nargs=-1`` argument of the command) gets
    the words in the order given, unknown options and their values included.
    """

    passthrough = "args"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ours, theirs = split_argv(args, option_arities(self.get_params(ctx)))
        try:
            rest = super().parse_args(ctx, ours)
        except click.UsageError as exc:
            exc.ctx = exc.ctx or ctx  # "aksara test: error: ...", not "aksara: error: ..."
            raise
        ctx.params[self.passthrough] = tuple(theirs)
        return rest
