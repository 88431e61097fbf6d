"""The language guard: every message has a German translation, and every page and every mail,
rendered in German and in English, shows words, not codes (and German ones on German pages).

1. The catalogues: `makemessages` run on a copy of the code must find no message without a
   German translation (and none fuzzy); the shipped catalogue compiles with none either.
2. Every page of the three users and the public, and every mail, rendered for a report with a
   full history (assigned, started, cleared, reopened, merged, prioritised, late, rejected,
   flagged), in German and in English: no status, category or flag code in the visible text,
   and on German pages and in German mails none of the English phrases this app writes.
"""

import html
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core import mail
from django.utils import timezone, translation

from crews.actions import ticket_close, ticket_reject, ticket_start
from crews.dispatch import dispatch_merge, dispatch_set_priority
from crews.escalation import escalation_run
from crews.models import Assignment
from crews.services import report_dispatch
from districts.models import Address
from reports.emails import (
    subscription_confirm_send,
    tracking_email_send,
    update_kind,
    update_message,
)
from reports.models import Category, Report, ReportEvent, ReportFlag, ReportSubscription
from reports.services import report_create, report_flag_add, report_reopen_by_resident
from tests.conftest import NEUSTADT_POINT, jpeg_bytes, upload

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("de", "en")

# Codes the app stores: none may be shown as they are.
STATUS_CODES = [code for code in Report.Status.values]
FLAG_CODES = [code for code in ReportFlag.Kind.values if code != "other"]
# English sentences and fragments the app writes (or wrote into old rows); none on a German
# page or in a German mail.
ENGLISH_ON_GERMAN = [
    r"\bthe\b",
    r"\bReport #",
    r"\bYour report\b",
    r"\bwas merged\b",
    r"\bMerged into\b",
    r"\bLate:",
    r"\bPriority \d",
    r"\bAfter-photo\b",
    r"\bNo crew\b",
    r"\bbefore the report\b",
    r"\bticket\(s\)",
    r"\bdue \d",
    r"\d[.,]\d h\b",  # "466,0 h": durations over two days are given in days
    r"\bPreventive round\b",
    r"\bhotspot\b",
    r"\bcleared\b",
    r"\bassigned\b",
]


# --- 1. catalogues --------------------------------------------------------------------------


def _catalogue_problems(po: Path) -> list[str]:
    problems = []
    for option, what in (("--untranslated", "untranslated"), ("--only-fuzzy", "fuzzy")):
        out = subprocess.run(
            ["msgattrib", option, "--no-obsolete", str(po)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for block in re.findall(r'^msgid ((?:".*"\n)+)', out, flags=re.M):
            text = "".join(re.findall(r'"(.*)"', block))
            if text:  # the header has an empty msgid
                problems.append(f"{what}: {text}")
    return problems


def test_the_german_catalogue_is_complete_and_compiles():
    po = ROOT / "locale" / "de" / "LC_MESSAGES" / "django.po"
    subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(po)], check=True)
    assert _catalogue_problems(po) == []


def test_every_message_in_the_code_has_a_german_translation(tmp_path):
    copy = tmp_path / "src"
    skip = shutil.ignore_patterns(
        ".venv", ".git", "var", "media", "staticfiles", "bench", "tests", "__pycache__", "*.mo"
    )
    shutil.copytree(ROOT, copy, ignore=skip, symlinks=False)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "de", "--no-obsolete", "-v0"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    problems = _catalogue_problems(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")
    assert problems == [], "messages without a German translation in locale/de:\n" + "\n".join(
        problems
    )


# --- 2. pages and mails -----------------------------------------------------------------------


def _visible(page: str) -> str:
    """The text a person sees or hears: no scripts or styles, tags gone, but the attributes a
    screen reader says (aria-label, title, alt, placeholder) kept."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    said = re.findall(r'\b(?:aria-label|title|alt|placeholder)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(text + " " + " ".join(said))


def _problems(text: str, language: str, codes: list[str]) -> list[str]:
    found = []
    if language != "de":
        # An English label may be the code itself ("new", "cleared"): only codes that are no
        # English word can be told from words there ("in_progress", "bulky_waste").
        codes = [code for code in codes if "_" in code]
    for code in codes:
        if re.search(rf"(?<![\w/.#-]){re.escape(code)}(?![\w/.-])", text):
            found.append(f"raw code {code!r}")
    if language == "de":
        for pattern in ENGLISH_ON_GERMAN:
            hit = re.search(pattern, text)
            if hit:
                start = max(hit.start() - 60, 0)
                found.append(f"English {pattern!r}: …{text[start : hit.end() + 60]!r}…")
    return found


@pytest.fixture
def story(db, dispatcher, django_capture_on_commit_callbacks):
    """A report with every kind of history, a merged duplicate, a rejected one, flags, a
    hotspot and a late ticket; returns what the pages need."""
    Address.objects.create(
        street="Alaunstraße",
        house_number="36",
        postcode="01099",
        location=Point(NEUSTADT_POINT.x, NEUSTADT_POINT.y + 0.0001, srid=4326),
    )

    def member_of(report: Report) -> User:
        return report.assignments.get(active=True).crew.members.first()

    def made(language: str, category: str = "bulky_waste", email: str = "a@example.org"):
        with translation.override(language):
            report, _ = report_create(
                category=category,
                location=NEUSTADT_POINT,
                description="Sofa",
                email=email,
                photos=[upload(jpeg_bytes())],
            )
        report_dispatch(report=report)
        report.refresh_from_db()
        return report

    with django_capture_on_commit_callbacks(execute=True):
        main = made("de")
        member = member_of(main)
        ticket_start(user=member, report=main, expected_version=main.version)
        main.refresh_from_db()
        ticket_close(
            user=member,
            report=main,
            expected_version=main.version,
            photo=upload(jpeg_bytes()),
        )
        main.refresh_from_db()
        report_reopen_by_resident(report=main, note="Noch da")
        dup = made("de", email="b@example.org")
        dispatch_merge(duplicate=dup, keep=main, actor=dispatcher)
        dispatch_set_priority(report=main, priority=2, actor=dispatcher)
        rejected = made("en", category="litter", email="c@example.org")
        ticket_reject(
            user=member_of(rejected),
            report=rejected,
            expected_version=rejected.version,
            reason="private_ground",
        )
        with translation.override(settings.LANGUAGE_CODE):
            report_flag_add(
                report=main, kind=ReportFlag.Kind.OTHER, reason="Sperrmüll-Termin prüfen"
            )
        # Old rows written in English before notes were stored as codes.
        ReportEvent.objects.create(report=main, kind="note", note=f"Merged into #{main.pk}.")
        ReportEvent.objects.create(
            report=main, kind="note", note="Late: the deadline 2026-11-30 15:00 has passed."
        )
        late = made("de", category="litter", email="")
        Assignment.objects.filter(report=late).update(due_at=timezone.now() - timedelta(days=3))
        Report.objects.filter(pk__in=[main.pk, dup.pk, rejected.pk]).update(
            created_at=timezone.now() - timedelta(days=20)
        )
    mail.outbox.clear()
    return {"main": main, "dup": dup, "rejected": rejected, "late": late, "member": member}


def _pages(story: dict) -> list[tuple[str, str]]:
    main, dup = story["main"], story["dup"]
    return [
        ("public", "/"),
        ("public", "/report/new/"),
        ("public", f"/reports/{main.pk}/"),
        ("public", f"/reports/{dup.pk}/"),
        ("public", f"/r/{main.tracking_token}/"),
        ("public", f"/r/{dup.tracking_token}/"),
        ("public", f"/r/{story['rejected'].tracking_token}/"),
        ("crew", "/crew/"),
        ("crew", "/crew/plan/"),
        ("crew", f"/crew/tickets/{main.pk}/"),
        ("dispatch", "/dispatch/"),
        ("dispatch", f"/dispatch/reports/{main.pk}/"),
        ("dispatch", f"/dispatch/reports/{dup.pk}/"),
        ("dispatch", f"/dispatch/reports/{story['late'].pk}/"),
        ("dispatch", "/dispatch/stats/?preset=last_30"),
        ("dispatch", "/dispatch/hotspots/?preset=last_30&min_count=2"),
        ("dispatch", f"/staff/reports/{main.pk}/"),
        ("dispatch", "/staff/"),
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_shows_words_not_codes(story, dispatcher, client, language):
    escalation_run(now=timezone.now())  # the late note in the history
    codes = STATUS_CODES + FLAG_CODES + list(Category.objects.values_list("code", flat=True))
    users = {"public": None, "crew": story["member"], "dispatch": dispatcher}
    failures = []
    for who, url in _pages(story):
        client.logout()
        if users[who] is not None:
            client.force_login(users[who])
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        for problem in _problems(_visible(response.content.decode()), language, codes):
            failures.append(f"{url} [{language}]: {problem}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_mail_shows_words_not_codes(story, settings, language):
    settings.LANGUAGE_CODE = language  # the staff's language (late-ticket mails)
    codes = STATUS_CODES + FLAG_CODES + list(Category.objects.values_list("code", flat=True))
    main = story["main"]
    messages = []
    for event in ReportEvent.objects.filter(
        report__in=[main, story["dup"], story["rejected"]]
    ).select_related("report__category", "report__duplicate_of"):
        if update_kind(event) is not None:
            messages.append(update_message(event=event, to="x@example.org", language=language))
            messages.append(
                update_message(
                    event=event,
                    to="x@example.org",
                    language=language,
                    unsubscribe_url="https://example.org/u/x/",
                )
            )
    kinds = {update_kind(e) for e in ReportEvent.objects.all() if update_kind(e) is not None}
    assert kinds == {"cleared", "reopened", "duplicate", "rejected"}
    main.reporter_email = "a@example.org"
    tracking_email_send(report=main, language=language)
    subscription_confirm_send(
        subscription=ReportSubscription.objects.create(
            report=main, email="f@example.org", language=language
        )
    )
    escalation_run(now=timezone.now())
    messages += list(mail.outbox)
    assert len(messages) > 8
    failures = []
    for message in messages:
        text = f"{message.subject}\n{message.body}"
        for problem in _problems(text, language, codes):
            failures.append(f"{message.subject!r} [{language}]: {problem}")
    assert failures == [], "\n".join(failures)
