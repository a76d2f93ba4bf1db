"""Domain errors: no HTTP knowledge here; the web layer maps them to responses.

A message is a French template that is also a message id of the interface catalogue
(web/locale), with `%(name)s` placeholders and their values as keyword arguments:
`InvalidInput("Le titre dépasse %(limit)s caractères.", limit=200)`. `str(error)` is the French
text (the logs read it); a page, an API answer and the command line (in English) say it in their
language by translating `message`, then filling in `params` (web/words.py: failure). Values are
never formatted into the template, or the catalogue could not know it.
"""

from __future__ import annotations


class ArchipelError(Exception):
    """Base of the errors a user can act on; the message is meant for them."""

    def __init__(self, message: str = "", **params: object):
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message


class NotFound(ArchipelError):
    pass


class AlreadyExists(ArchipelError):
    pass


class InvalidInput(ArchipelError):
    pass


class Forbidden(ArchipelError):
    pass
