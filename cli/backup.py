"""``flask backup PATH`` and ``flask restore PATH``: the database and its keys in one archive.

The archive (a gzipped tar, written with owner-only permissions) holds:

* ``database.dump`` (PostgreSQL, ``pg_dump --format=custom``) or ``database.sqlite3`` (SQLite,
  through its online backup API). Both are consistent snapshots taken while the app serves and
  the worker exports.
* ``keys/secret_key`` and ``keys/qbo_token_key``: the keys the app runs with. Without the token
  key the stored QuickBooks tokens cannot be decrypted: the archive is a secret.
* ``manifest.json``: the app's version, the database's migration revision, when it was taken,
  what kind of database, and the SHA-256 of every other file.

``flask restore`` checks the checksums, refuses an archive whose migration this code does not
know (taken by a newer release), refuses a database that already has tables, restores, brings
the schema up to the code's head, and writes the keys into the instance folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from extensions import db
from jobs.health import app_version

FORMAT = 1
KEY_FILES = {"secret_key": "SECRET_KEY", "qbo_token_key": "QBO_TOKEN_KEY"}


class BackupError(click.ClickException):
    """A backup or restore that cannot go on; the message says why, the exit code is 1."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq(url) -> tuple[str, dict]:
    """A libpq URL without the password (which goes in PGPASSWORD, never on a command line)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _script_directory():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    directory = os.path.join(current_app.root_path, "migrations")
    config = Config(os.path.join(directory, "alembic.ini"))
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config)


# ---- backup ------------------------------------------------------------------------------------

def _dump_database(folder: Path) -> tuple[str, str]:
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        target = folder / "database.sqlite3"
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        try:
            with sqlite3.connect(target) as copy:
                source.backup(copy)  # the online backup API: a consistent snapshot
            copy.close()
        finally:
            source.close()
        return "sqlite", target.name
    if url.get_backend_name() != "postgresql":
        raise BackupError(f"backups support PostgreSQL and SQLite, not {url.get_backend_name()}")
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump was not found: install the PostgreSQL client "
                          "(apt-get install postgresql-client) of the server's version")
    target = folder / "database.dump"
    libpq_url, env = _libpq(url)
    done = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",  # noqa: S603 (our arguments, no shell)
                           "--file", str(target), "--dbname", libpq_url],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return "postgresql", target.name


def write_backup(path: Path) -> dict:
    """Write the archive to ``path`` (atomically, mode 600); return its manifest."""
    from jobs.health import database_revision

    revision = database_revision()
    with tempfile.TemporaryDirectory(prefix="changeorder-backup-") as scratch:
        folder = Path(scratch)
        kind, database_file = _dump_database(folder)
        (folder / "keys").mkdir()
        for name, setting in KEY_FILES.items():
            (folder / "keys" / name).write_text(current_app.config[setting])
        files = [database_file] + [f"keys/{name}" for name in KEY_FILES]
        manifest = {
            "format": FORMAT,
            "app": "ChangeOrder Desk",
            "version": app_version(),
            "migration_head": revision,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {"kind": kind, "file": database_file},
            "checksums": {name: _sha256(folder / name) for name in files},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name in files:
                tar.add(folder / name, arcname=name)
        os.replace(partial, path)
    return manifest


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write the database and the instance keys to one archive at PATH (keep it secret)."""
    manifest = write_backup(path)
    click.echo(f"Backup written to {path} ({manifest['database']['kind']}, migration "
               f"{manifest['migration_head']}, {manifest['created_at']}). It holds the keys "
               "that decrypt the QuickBooks tokens: keep it as secret as a password.")


# ---- restore -----------------------------------------------------------------------------------

def read_archive(path: Path, folder: Path) -> dict:
    """Unpack the archive into ``folder`` and check it; its manifest."""
    try:
        with tarfile.open(path, "r:*") as tar:
            tar.extractall(folder, filter="data")
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"{path} is not a readable backup archive ({error})") from None
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        raise BackupError(f"{path} has no manifest: not a ChangeOrder Desk backup") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"archive format {manifest.get('format')} is not one this version "
                          "reads")
    for name, expected in manifest.get("checksums", {}).items():
        file = folder / name
        if not file.is_file() or _sha256(file) != expected:
            raise BackupError(f"{name} in the archive is missing or damaged (checksum "
                              "mismatch): not restoring")
    return manifest


def _check_not_newer(manifest: dict) -> None:
    revision = manifest.get("migration_head")
    if not revision:
        return
    from alembic.util import CommandError

    try:
        known = _script_directory().get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"the archive was taken by a newer release (version {manifest.get('version')}, "
            f"migration {revision}, which this code does not know). Install that release or "
            "a later one, then restore.")


def _check_empty() -> None:
    tables = inspect(db.engine).get_table_names()
    if tables:
        raise BackupError(f"the database already has {len(tables)} table(s): restore only into "
                          "a new, empty database (create one and point DATABASE_URL at it)")


def _restore_database(manifest: dict, folder: Path) -> None:
    url = db.engine.url
    kind = manifest["database"]["kind"]
    if url.get_backend_name() != kind:
        raise BackupError(f"the archive holds a {kind} database but DATABASE_URL is "
                          f"{url.get_backend_name()}: restore into the same kind of database")
    source = folder / manifest["database"]["file"]
    db.session.remove()
    db.engine.dispose()
    if kind == "sqlite":
        target = Path(url.database)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as backup, sqlite3.connect(target) as live:
            backup.backup(live)
        return
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise BackupError("pg_restore was not found: install the PostgreSQL client")
    libpq_url, env = _libpq(url)
    done = subprocess.run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",  # noqa: S603
                           "--single-transaction", "--dbname", libpq_url, str(source)],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def _restore_keys(folder: Path) -> list[str]:
    """Write the keys into the instance folder (mode 600); warnings for keys set in the
    environment to something else (the environment wins over the instance files)."""
    warnings = []
    instance = Path(current_app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    for name, setting in KEY_FILES.items():
        value = (folder / "keys" / name).read_text().strip()
        target = instance / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        configured = os.environ.get(setting, "").strip()
        if configured and configured != value:
            warnings.append(f"{setting} is set in the environment to another value than the "
                            f"archive's: unset it (the app then reads {target}) or set it to "
                            "that file's content.")
    return warnings


def restore_backup(path: Path) -> tuple[dict, list[str]]:
    from flask_migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="changeorder-restore-") as scratch:
        folder = Path(scratch)
        manifest = read_archive(path, folder)
        _check_not_newer(manifest)
        _check_empty()
        _restore_database(manifest, folder)
        warnings = _restore_keys(folder)
    upgrade()  # an archive of an older release: its migrations up to this code's head
    return manifest, warnings


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(path: Path) -> None:
    """Restore an archive of ``flask backup`` into the (empty) database and instance folder."""
    manifest, warnings = restore_backup(path)
    click.echo(f"Restored the backup of {manifest['created_at']} (version "
               f"{manifest['version']}, migration {manifest['migration_head']}) into "
               f"{make_url(str(db.engine.url)).render_as_string(hide_password=True)}; keys "
               f"written to {current_app.instance_path}. Restart the web and worker processes.")
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
