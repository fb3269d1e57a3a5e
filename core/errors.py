"""Domain errors raised by services; the API maps each to the error body of API.md."""


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidParams(DomainError):
    pass


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class NotFound(DomainError):
    """Another user's object named in a request: never reveal that it exists."""

    status_code = 404
    code = "not_found"


class QuotaExceeded(DomainError):
    """A per-user limit (jobs, images, trainings) is reached; ``retry_after`` says in how many
    seconds trying again can succeed."""

    status_code = 429
    code = "quota_exceeded"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(DomainError):
    """The requester may not do this (``fields`` names what they asked that is not theirs to
    ask, e.g. ``priority``)."""

    status_code = 403
    code = "forbidden"
