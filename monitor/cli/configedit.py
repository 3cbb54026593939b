"""Editing config.toml for `feeds add`, `rules add` and `import`: comments and layout kept.

The only module that imports tomlkit (a style-preserving TOML parser): it appends one table to an
array of tables ([[feeds]], [[rules]]) and leaves every other byte of the file as it was. Each
edit is checked by the real loader (monitor.config.loads) and the rules compiler before the file
is replaced atomically, so a command never writes a file the daemon would then refuse.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, Table

from monitor import config as config_mod
from monitor.errors import ConfigError
from monitor.rules import compile_rules
from monitor.types import Config


def append_tables(text: str, key: str, rows: Sequence[Mapping[str, object]], *, comment: str = "") -> str:
    """Return config text with one `[[key]]` table per row appended after the last one (or at the end)."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"cannot edit the file: invalid TOML: {exc}") from None
    existing = doc.get(key)
    for i, row in enumerate(rows):
        table = tomlkit.table()
        if comment and i == 0:
            table.add(tomlkit.comment(comment))
        for name, value in row.items():
            table.add(name, value)
        table.add(tomlkit.nl())  # a blank line after it, like the tables a person writes
        if isinstance(existing, AoT):
            existing.append(table)
        elif isinstance(existing, Array):  # feeds = [{...}, ...] written inline: stay inline
            inline = tomlkit.inline_table()
            inline.update(dict(row))
            existing.append(inline)
        elif existing is None:
            if doc.body and not tomlkit.dumps(doc).endswith("\n\n"):
                doc.add(tomlkit.nl())
            existing = tomlkit.aot()
            existing.append(table)
            doc.append(key, existing)
        else:
            kind = "a table" if isinstance(existing, Table) else type(existing).__name__
            raise ConfigError(f"cannot add to {key}: it is {kind}, not an array of [[{key}]] tables")
    return tomlkit.dumps(doc)


def validated(path: Path, text: str, what: str) -> Config:
    """Return the Config `text` loads to (rules compiled too); ConfigError saying nothing was changed if not."""
    try:
        cfg = config_mod.loads(text, path=path)
        compile_rules(cfg.rules, cfg.terms, source=path.name)
    except ConfigError as exc:
        raise ConfigError(f"{path.name} unchanged: with {what} it would not load: {exc}") from None
    return cfg


def replace_file(path: Path, text: str) -> None:
    """Write `text` to path atomically (temp file in the same folder, fsync, rename), keeping its mode."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, path.stat().st_mode & 0o7777)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
