"""A database lost while Django checks a constraint is an outage (503, sent again by clients),
not a broken rule (400). Django's `Q.check` answers "violated" when its query fails; the PostgreSQL
restart drill met it as "Constraint one_active_assignment_per_report is violated" on a valid
first submission. Here the check query's own server process is ended, as a restart ends it."""

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.utils import timezone

from core.outage import is_outage
from core.validation import model_validate
from crews.models import Assignment, Crew
from crews.services import assignment_create
from reports.services import report_create
from tests.conftest import NEUSTADT_POINT

pytestmark = [pytest.mark.fault]


def _end_backend_at_check(pid: int):
    """Before Django's constraint check query runs, its server process is terminated."""
    params = connection.settings_dict
    dsn = (
        f"host={params['HOST']} port={params['PORT'] or 5432} user={params['USER']} "
        f"password={params['PASSWORD']} dbname={params['NAME']}"
    )

    def wrapper(execute, sql, sql_params, many, context):
        if '"_check"' in sql:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return execute(sql, sql_params, many, context)

    return wrapper


@pytest.mark.django_db(transaction=True)  # the test's own transaction dies with the connection
def test_a_database_lost_during_a_constraint_check_is_an_outage(dresden_committed):
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    crew = Crew.objects.order_by("pk").first()
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    try:
        with (
            connection.execute_wrapper(_end_backend_at_check(pid)),
            pytest.raises(OperationalError) as lost,
        ):
            assignment_create(report=report, crew=crew, due_at=timezone.now())
    finally:
        connection.close()
    assert is_outage(lost.value)  # answered 503 with Retry-After (tests/faults/test_outage_answers)
    assert not Assignment.objects.filter(report=report).exists()  # nothing half-stored


@pytest.mark.django_db
def test_a_real_violation_is_still_a_readable_error():
    report, _ = report_create(category="litter", location=NEUSTADT_POINT)
    crew = Crew.objects.order_by("pk").first()
    assignment_create(report=report, crew=crew, due_at=timezone.now())
    twin = Assignment(report=report, crew=crew, due_at=timezone.now())
    with pytest.raises(ValidationError):
        model_validate(twin)
