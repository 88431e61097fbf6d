from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reports.idempotency import IdempotencyKeyReused
from reports.services import ReportChangedMeanwhile


def exception_handler(exc, context):
    """Domain errors become readable HTTP answers: 400 for broken rules, 409 for conflicts."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IdempotencyKeyReused):
        return Response(
            {"detail": _(str(exc)), "code": "idempotency_key_reused"},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, ReportChangedMeanwhile):
        report = exc.report
        return Response(
            {
                "detail": str(exc),
                "current": {"id": report.pk, "status": report.status, "version": report.version},
            },
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)
