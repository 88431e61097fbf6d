"""Model validation that tells a lost database from a broken rule.

Django checks a conditional unique constraint or a check constraint (`Q.check`) with a query,
and when that query raises a DatabaseError it only logs a warning and reports the constraint
as violated. So if PostgreSQL restarts while a row is validated, a valid submission is refused
with "Constraint … is violated" (a 400) instead of the 503 with Retry-After that makes clients
send it again (found by the PostgreSQL restart drill, tests/faults).
"""

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.models import Model


def model_validate(instance: Model, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """`instance.full_clean()`; a ValidationError that came from a failed check query is raised
    as the database error it was (an outage: core.outage answers 503)."""
    try:
        instance.full_clean()
    except ValidationError:
        connection = connections[using]
        # A check query that failed left the transaction to be rolled back (its savepoint
        # could not be), or the connection dead; either way no rule was shown broken.
        if connection.needs_rollback or not connection.is_usable():
            raise OperationalError(
                "The database failed while a constraint was being checked."
            ) from None
        raise
