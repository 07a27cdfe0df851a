'''absl flags generated from an experiment's `Config` dataclass.

    @dataclasses.dataclass(frozen=True)
    class Config:
        epochs: int = 10
        """Passes over the data."""
        optimizer: Literal["adam", "sgd"] = "adam"
        """The optimizer."""

    config_flags.define(Config)          # --epochs, --optimizer (an enum),
                                         # --model_dir, --restart
    config = config_flags.parse(Config)  # Config(**flag values): its checks
    metrics = train_and_evaluate(config, FLAGS.model_dir,
                                 restart=FLAGS.restart)

The string under a field (an attribute docstring, as Sphinx reads them) is
its flag's help, so a field is documented once. A field's type picks the
flag: bool, int, float, str; `Literal[...]` an enum; `X | None` the same
flag with no default; a tuple a comma-separated list (`--heads=a,b`);
a dict `--set KEY=VALUE` (repeatable, values read as Python literals);
any other union (`int | str`, e.g. "auto" or a number) a string that the
Config's own `__post_init__` converts and checks.
'''

import ast
import dataclasses
import inspect
import sys
import textwrap
import types
import typing
from typing import Literal

from absl import flags

from experiments.cli import RESTART_HELP

FLAGS = flags.FLAGS
SET = "set"  # the flag of a dict field: --set KEY=VALUE


def field_docs(config_class) -> dict:
    """{field name: its docstring} of a dataclass, from its source."""
    source = textwrap.dedent(inspect.getsource(config_class))
    body = ast.parse(source).body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def define(
    config_class, *, skip=(), choices=None, extra_help=None,
    run_folder=True, flag_values=FLAGS,
):  # fmt: skip
    """Defines one flag per field of `config_class` (but `skip`) and, with
    `run_folder`, --model_dir and --restart (`experiments.rundir`), which
    `train_and_evaluate(config, workdir, restart=...)` takes beside it.

    `choices` {field: values known only at run time} makes those fields
    enums; `extra_help` {field: text} is appended to their docstrings.
    """
    choices, extra_help = choices or {}, extra_help or {}
    # Flags belong to the Config's module, so that its --help lists them.
    fv = {"flag_values": flag_values, "module_name": _module(config_class)}
    if run_folder:
        flags.DEFINE_string(
            "model_dir", "", "Run folder; the same one resumes or reruns the "
            "run (default: a new folder under runs/).", **fv,
        )  # fmt: skip
        flags.DEFINE_boolean("restart", False, RESTART_HELP, **fv)
    docs = field_docs(config_class)
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        if field.name in skip or not field.init:
            continue
        default = _default(field)
        help_text = docs.get(field.name)
        if not help_text:
            raise ValueError(
                f"{config_class.__name__}.{field.name} has no docstring; "
                "expected a string literal under the field (its --help)"
            )
        if field.name in extra_help:
            help_text = f"{help_text} {extra_help[field.name]}"
        hint = hints[field.name]
        if field.name in choices:
            hint = Literal[tuple(choices[field.name])]
        _define_one(field.name, hint, default, help_text, fv)


def parse(config_class, *, skip=(), flag_values=FLAGS, **overrides):
    """`config_class(**values of its flags, **overrides)`."""
    hints = typing.get_type_hints(config_class)
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name in skip or not field.init:
            continue
        name = SET if _origin(hints[field.name]) is dict else field.name
        values[field.name] = _value(hints[field.name], flag_values[name].value)
    values.update(overrides)
    return config_class(**values)


def parse_options(pairs) -> dict:
    """["latent_dim=2", "loss=bce"] -> {"latent_dim": 2, "loss": "bce"}."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}; expected KEY=VALUE")
        options[key] = _literal(value)
    return options


def _default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise ValueError(f"field {field.name} has no default; a flag needs one")


def _origin(hint):
    origin = typing.get_origin(hint)
    return origin if origin is not None else hint


def _without_none(hint):
    """The type without None; a union of several types reads as str (the
    Config converts it)."""
    if _origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return hint


def _module(config_class):
    """The module name absl files a flag under (the script's path for
    __main__, as absl's own DEFINE calls do)."""
    name = config_class.__module__
    return sys.argv[0] if name == "__main__" else name


def _define_one(name, hint, default, help_text, fv):
    kind = _without_none(hint)
    origin = _origin(kind)
    if origin is typing.Literal:
        choices = [str(c) for c in typing.get_args(kind)]
        flags.DEFINE_enum(name, str(default), choices, help_text, **fv)
    elif kind is bool:
        flags.DEFINE_boolean(name, default, help_text, **fv)
    elif kind is int:
        flags.DEFINE_integer(name, default, help_text, **fv)
    elif kind is float:
        flags.DEFINE_float(name, default, help_text, **fv)
    elif origin is tuple:
        listed = None if default is None else [str(v) for v in default]
        flags.DEFINE_list(name, listed, help_text, **fv)
    elif origin is dict:
        flags.DEFINE_multi_string(SET, [], f"{help_text} KEY=VALUE.", **fv)
    else:  # str, and unions the Config converts itself
        flags.DEFINE_string(
            name, None if default is None else str(default), help_text, **fv
        )


def _value(hint, value):
    """A flag's value as the field's type."""
    kind = _without_none(hint)
    origin = _origin(kind)
    if value is None:
        return None
    if origin is typing.Literal:  # enum flags hold strings
        return {str(c): c for c in typing.get_args(kind)}[value]
    if origin is tuple:
        args = [a for a in typing.get_args(kind) if a is not Ellipsis]
        convert = args[0] if args and args[0] in (int, float, str) else _literal
        return tuple(_converted(convert, v) for v in value)
    if origin is dict:
        return parse_options(value)
    return value


def _converted(convert, text):
    try:
        return convert(text)
    except ValueError:
        return text  # the Config's check names the bad value


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
