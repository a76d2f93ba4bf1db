"""Domain errors: no HTTP knowledge here; the web layer maps them to responses."""


class ArchipelError(Exception):
    """Base of the errors a user can act on; the message is meant for them."""


class NotFound(ArchipelError):
    pass


class AlreadyExists(ArchipelError):
    pass


class InvalidInput(ArchipelError):
    pass


class Forbidden(ArchipelError):
    pass
