"""Editing config.toml for `feeds add`, `rules add`, `channels add` and `import`: comments and layout kept.

The only module that imports tomlkit (a style-preserving TOML parser): it appends tables to an
array of tables ([[feeds]], [[rules]]) or a [channels.NAME] table, adds a name to a rule's list,
and leaves every other byte of the file as it was. Each
edit is checked by the real loader (monitor.config.loads) and the rules compiler before the file
is replaced atomically, so a command never writes a file the daemon would then refuse.

Edits are read-modify-write, so `editing()` holds an exclusive lock from the read to the replace:
two `rules add` at once otherwise both read the old file and the second replace drops the first
rule. A symlinked config.toml is edited through the link (the target is replaced, the link stays),
and the replacement keeps the file's mode and owner.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table

from monitor import config as config_mod
from monitor.errors import ConfigError
from monitor.rules import compile_rules
from monitor.types import Config


@dataclass(frozen=True)
class Edit:
    """config.toml as read under the edit lock."""

    path: Path  # as named: the loader resolves relative paths from its folder, as the daemon does
    target: Path  # the file itself (symlinks followed): what gets replaced
    text: str
    config: Config

    def validated(self, text: str, what: str) -> Config:
        return validated(self.path, text, what)

    def replace(self, text: str) -> None:
        replace_file(self.target, text)


def lock_path(target: Path) -> Path:
    """The sidecar lock file of a config file (symlinks already followed)."""
    return target.with_name(f".{target.name}.lock")


@contextmanager
def editing(path: Path) -> Iterator[Edit]:
    """Read config.toml under an exclusive lock held until the block ends (one editor at a time).

    The lock is flock() on a sidecar file beside the real file, not on config.toml: the atomic
    replace puts a new inode under the name, so a lock on the old one would not stop the next
    editor. The sidecar is never deleted (deleting it would let two editors lock two files).
    """
    if not path.exists():
        raise ConfigError(f"{path}: no such config file (use --config PATH or $PRESS_MONITOR_CONFIG)")
    target = Path(os.path.realpath(path))
    lock = lock_path(target)
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ConfigError(f"{path.name} unchanged: cannot create its lock file {lock}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for the editor before us; released when fd closes
        text = target.read_text(encoding="utf-8")
        yield Edit(path, target, text, config_mod.loads(text, path=path))
    finally:
        os.close(fd)


def append_tables(text: str, key: str, rows: Sequence[Mapping[str, object]], *, comment: str = "") -> str:
    """Return config text with one `[[key]]` table per row appended after the last one (or at the end)."""
    doc = _parse(text)
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


def add_table(text: str, key: str, name: str, row: Mapping[str, object]) -> str:
    """Return config text with a `[key.name]` table (e.g. [channels.hook]) after the last `[key.*]` one."""
    doc = _parse(text)
    table = tomlkit.table()
    for field, value in row.items():
        if isinstance(value, Mapping):  # headers = {Name = "value"}: one line, not a [key.name.headers] table
            inline = tomlkit.inline_table()
            inline.update(value)
            value = inline
        table.add(field, value)
    table.add(tomlkit.nl())
    parent = doc.get(key)
    if parent is None:
        if doc.body and not tomlkit.dumps(doc).endswith("\n\n"):
            doc.add(tomlkit.nl())
        parent = tomlkit.table(is_super_table=True)  # written as [key.name] alone, no bare [key] header
        doc.append(key, parent)
    elif not isinstance(parent, Table):
        raise ConfigError(f"cannot add to {key}: it is written inline; make it [{key}.NAME] tables")
    if name in parent:
        raise ConfigError(f"[{key}.{name}] is already in the file")
    parent.append(name, table)
    return tomlkit.dumps(doc)


def add_to_lists(text: str, key: str, names: Sequence[str], field: str, item: str) -> str:
    """Return config text with `item` appended to `field` of the [[key]] tables named `names` (e.g. a rule's notify)."""
    doc = _parse(text)
    tables = doc.get(key)
    for name in names:
        table = next((t for t in (tables or ()) if isinstance(t, Table | InlineTable) and t.get("name") == name), None)
        if table is None:
            raise ConfigError(f"no {key[:-1] if key.endswith('s') else key} named {name!r} in the file")
        current = table.get(field)
        if current is None:
            table[field] = [item]
        elif isinstance(current, Array):
            if item not in current:
                current.append(item)
        else:
            raise ConfigError(f"cannot add to {key} {name!r}: its {field} is not an array")
    return tomlkit.dumps(doc)


def _parse(text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"cannot edit the file: invalid TOML: {exc}") from None


def validated(path: Path, text: str, what: str) -> Config:
    """Return the Config `text` loads to (rules compiled too); ConfigError saying nothing was changed if not."""
    try:
        cfg = config_mod.loads(text, path=path)
        compile_rules(cfg.rules, cfg.terms, source=path.name)
    except ConfigError as exc:
        raise ConfigError(f"{path.name} unchanged: with {what} it would not load: {exc}") from None
    return cfg


def replace_file(path: Path, text: str) -> None:
    """Write `text` to path atomically (temp file in the same folder, fsync, rename), keeping mode and owner.

    `path` is the real file (callers follow symlinks first): renaming over a link would replace the
    link and leave its target as it was. An owner this process cannot give the new file (another
    user's config in a group-writable folder) refuses the edit rather than silently taking the file over.
    """
    st = path.stat()
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            own = os.fstat(handle.fileno())
            if (own.st_uid, own.st_gid) != (st.st_uid, st.st_gid):
                try:
                    os.fchown(handle.fileno(), st.st_uid, st.st_gid)
                except PermissionError:
                    raise ConfigError(f"{path.name} unchanged: it belongs to uid {st.st_uid} gid {st.st_gid}, which "
                                      "this user cannot give a rewritten file; edit it as its owner") from None
        os.chmod(name, st.st_mode & 0o7777)  # after chown, which clears set-id bits
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
