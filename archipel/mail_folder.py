"""E-mail written as files instead of sent: `mail_folder`, for trying Archipel without a mail
server. Each message is one .eml file (RFC 5322, what any mail program opens), written under a
temporary name and renamed, so that a reader never sees half a message."""

from __future__ import annotations

import os
import uuid
from email.message import EmailMessage
from pathlib import Path

from archipel.storage.tables import utcnow

SUFFIX = ".eml"


def path_of(settings) -> Path | None:
    if not settings.mail_folder:
        return None
    path = Path(settings.mail_folder).expanduser()
    return path if path.is_absolute() else settings.directory / path


def write(folder: Path, message: EmailMessage) -> Path:
    """The message as a new file in `folder`; names sort by time of writing."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow().strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    partial = folder / f".{name}.part"
    with open(partial, "wb") as file:
        file.write(message.as_bytes())
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, folder / name)
    return folder / name


def messages(folder: Path) -> list[Path]:
    """The messages written so far, newest first."""
    if not folder.is_dir():
        return []
    return sorted((path for path in folder.iterdir() if path.suffix == SUFFIX and not path.name.startswith(".")),
                  reverse=True)
