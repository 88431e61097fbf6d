"""What follows a report: work still to do after its commit (OutboxItem), residents following
it (ReportSubscription) and the "I see it too" confirmations (ReportConfirmation). Part of
`reports.models`, which imports them."""

from django.contrib.gis.db import models
from django.utils import timezone

from reports.models import Report, new_tracking_token


class OutboxItem(models.Model):
    """Work still to do after a commit (a mail, a push, a cache delete): a row written in the
    same transaction as the change it follows, done by `reports.outbox` (see there)."""

    kind = models.CharField(max_length=50)
    report = models.ForeignKey(
        Report, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Not before: the sweep leaves an item alone until then (retry back-off).
    run_after = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["run_after"],
                name="outbox_pending_idx",
                condition=models.Q(done_at__isnull=True),
            ),
            models.Index(
                fields=["kind", "report"],
                name="outbox_pending_kind_idx",
                condition=models.Q(done_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({'done' if self.done_at else 'pending'})"


class ReportSubscription(models.Model):
    """ "Tell me when it changes": an e-mail address that follows a public report. Mails go out
    only after the address confirmed (double opt-in); every mail carries the unsubscribe link."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="subscriptions")
    email = models.EmailField()
    token = models.CharField(max_length=64, unique=True, default=new_tracking_token)
    language = models.CharField(max_length=10, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "email"], name="subscription_unique")
        ]

    def __str__(self) -> str:
        return f"subscription {self.pk} to report {self.report_id}"

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class ReportConfirmation(models.Model):
    """One "I see it too" per browser and per network address: the (hashed) keys that
    confirmed a report; a key already here does not count again."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "key"], name="confirmation_once")]

    def __str__(self) -> str:
        return f"confirmation of report {self.report_id}"
