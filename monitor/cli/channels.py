"""`channels` (list) and `channels add webhook|email|apprise|console NAME ...`: alert destinations.

The options of each `channels add TYPE` come from that type's options dataclass in
channel_options.py (the schema the loader reads), so a key added there is an option here too:
`--url`, `--to` (repeatable), `--header 'Name: value'` (repeatable), a secret `x` as `--x-env VAR`
or `--x-file PATH`. The command only writes what was given; the real loader checks it (and fills
the defaults) before config.toml is replaced, exactly as for `feeds add` and `rules add`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import click

from monitor.channel_options import OPTIONS, schema
from monitor.cli import configedit
from monitor.cli.base import Ctx, fail, main

RELOAD = "reload the daemon (SIGHUP, or systemctl reload) to use it"

EXAMPLES = {
    "console": "press-monitor channels add console screen --stream stderr --rule central-asia",
    "webhook": "press-monitor channels add webhook ops --url https://hooks.example.com/press \\\n"
               "      --secret-env OPS_HOOK_SECRET --rule central-asia",
    "email": "press-monitor channels add email desk --host smtp.example.com --username pm \\\n"
             "      --password-file smtp-password --from 'Press Monitor <pm@example.com>' --to desk@example.com",
    "apprise": "press-monitor channels add apprise phone --urls-env PRESS_MONITOR_APPRISE_URLS",
}

# What each option means, by TOML key (the README's [channels.NAME] tables say more).
HELP = {
    "url": "the endpoint to POST to (http:// or https://)",
    "format": "body shape",
    "headers": "an extra request header, 'Name: value' (repeatable)",
    "timeout": "deadline of one delivery attempt, e.g. 15s",
    "secret": "the Standard Webhooks signing secret (whsec_...)",
    "host": "SMTP server host name",
    "port": "SMTP port [default: by --security: 587, 465, 25]",
    "security": "how to secure the SMTP connection",
    "username": "SMTP login (needs --password-env or --password-file)",
    "password": "the SMTP password",
    "from": "sender address, e.g. 'Press Monitor <alerts@example.com>'",
    "to": "a recipient address (repeatable)",
    "subject_prefix": "put before every subject line",
    "urls": "the Apprise URLs (they carry credentials)",
    "stream": "where to print",
}


@main.group(invoke_without_command=True)
@click.pass_context
def channels(ctx: click.Context) -> None:
    """List the alert channels of config.toml and the rules that alert each.

    \b
    press-monitor channels add webhook ops --url https://hooks.example.com/press --rule central-asia
    press-monitor channels add email desk --host smtp.example.com --from alerts@example.com --to desk@example.com
    """
    if ctx.invoked_subcommand is not None:
        return
    cfg = ctx.obj.app.config
    if not cfg.channels:
        click.echo("no channels (add one: press-monitor channels add --help)", err=True)
        return
    for name, spec in cfg.channels.items():
        rules = [r.name for r in cfg.rules if name in r.notify]
        state = "" if spec.enabled else "  (disabled in config.toml)"
        digest = f"  digest {spec.digest.text}" if spec.digest else ""
        click.echo(f"{name:<16} {spec.type:<8} rules: {', '.join(rules) or '-'}{digest}{state}")


@channels.group("add")
def channels_add() -> None:
    """Add an alert channel to config.toml: `channels add TYPE NAME --option ...`.

    Comments and layout of config.toml are kept; the channel is checked by the real loader
    before the file is replaced. Secrets are never written into config.toml: name the
    environment variable (--secret-env) or the file (--secret-file) that holds them.

    \b
    Examples:
      press-monitor channels add webhook ops --url https://hooks.example.com/press --secret-env OPS_HOOK_SECRET
      press-monitor channels add email desk --host smtp.example.com --username pm --password-file smtp-password \\
          --from 'Press Monitor <pm@example.com>' --to desk@example.com --digest 'daily 08:00' --rule central-asia
      press-monitor channels add apprise phone --urls-env PRESS_MONITOR_APPRISE_URLS
    """


def _option(key: str, kind: str, choices: tuple[str, ...],
            required: bool) -> tuple[list[click.Option], Callable[..., Any]]:
    """Return the click option(s) for one TOML key and how to turn their values into TOML values."""
    flag = key.replace("_", "-")
    if kind == "secret":
        return ([click.Option([f"--{flag}-env", f"{key}_env"], metavar="VAR",
                              help=f"environment variable holding {HELP[key]}"),
                 click.Option([f"--{flag}-file", f"{key}_file"], metavar="PATH",
                              help=f"file holding {HELP[key]} (relative: in $CREDENTIALS_DIRECTORY, else beside "
                                   "config.toml)")],
                lambda v: v)
    if kind == "headers":
        return [click.Option(["--header", key], multiple=True, metavar="'NAME: VALUE'", help=HELP[key])], _headers
    if kind == "recipients":
        return [click.Option([f"--{flag}", key], multiple=True, required=required, metavar="ADDRESS",
                             help=HELP[key])], lambda v: list(v) or None
    kind_type: Any = click.Choice(choices) if choices else (int if kind == "port" else str)
    return [click.Option([f"--{flag}", key], type=kind_type, required=required, help=HELP.get(key, key))], lambda v: v


def _headers(values: tuple[str, ...]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not 'Name: value'", param_hint="'--header'")
        out[name.strip()] = rest.strip()
    return out or None


def _add_command(kind: str) -> click.Command:
    params: list[click.Parameter] = [click.Argument(["name"])]
    convert: dict[str, Callable[..., Any]] = {}
    for f, o in schema(OPTIONS[kind]):
        key = o.key or f.name
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        options, to_toml = _option(key, o.kind, o.choices, required and o.kind != "secret")
        params.extend(options)
        for option in options:
            assert option.name is not None
            convert[option.name] = to_toml
    params += [
        click.Option(["--digest", "digest"], metavar="SCHEDULE",
                     help="collect alerts and send one digest: every duration (1h) or 'daily HH:MM'"),
        click.Option(["--rule", "rules"], multiple=True, metavar="RULE",
                     help="add the channel to this rule's notify list (repeatable)"),
    ]

    @click.pass_obj
    def add(obj: Ctx, name: str, digest: str | None, rules: tuple[str, ...], **given: Any) -> None:
        row: dict[str, object] = {"type": kind}
        for option, value in given.items():
            value = convert[option](value)
            if value is not None:
                row[option] = value
        if digest is not None:
            row["digest"] = digest
        with configedit.editing(obj.path) as edit:
            if name in edit.config.channels:
                fail(f"a channel named {name!r} is already in {edit.path.name}")
            unknown = [r for r in rules if r not in {rule.name for rule in edit.config.rules}]
            if unknown:
                fail(f"{edit.path.name} unchanged: no rule named {unknown[0]!r} "
                     f"(rules: {', '.join(r.name for r in edit.config.rules) or 'none'})")
            new_text = configedit.add_table(edit.text, "channels", name, row)
            if rules:
                new_text = configedit.add_to_lists(new_text, "rules", rules, "notify", name)
            edit.validated(new_text, f"channel {name!r}")
            edit.replace(new_text)
        alerted = f"; rules alerting it: {', '.join(rules)}" if rules else ""
        click.echo(f"added {kind} channel {name!r}{alerted}")
        if not rules:
            click.echo(f"no rule alerts it yet: `press-monitor rules add NAME QUERY --notify {name}`", err=True)
        click.echo(f"`press-monitor alerts test {name}` sends a test alert through it; {RELOAD}")

    article = "an" if kind[0] in "aeiou" else "a"
    return click.Command(kind, params=params, callback=add, short_help=f"add {article} {kind} channel",
                         help=f"Add {article} {kind} channel named NAME (the README's `type = \"{kind}\"` table "
                              f"says what each option does).\n\n\b\nExample:\n  {EXAMPLES[kind]}")


for _kind in OPTIONS:
    channels_add.add_command(_add_command(_kind))
