"""Manage Open311 API keys: `create --name ...` (prints the key once), `list`, `revoke ID`."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.models import Open311Client
from api.open311.keys import client_create, client_ensure, client_revoke


class Command(BaseCommand):
    help = "Create, list and revoke the API keys Open311 clients need to submit requests."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a new key; it is printed only once")
        create.add_argument("--name", required=True, help="who gets the key")
        create.add_argument("--contact", default="", help="how to reach them")
        create.add_argument(
            "--key",
            default=None,
            help="use this key instead of a random one (at least 16 characters)",
        )
        create.add_argument(
            "--if-missing",
            action="store_true",
            help="with --key: do nothing if that key exists (re-activate it if revoked)",
        )
        sub.add_parser("list", help="list clients and the state of their keys")
        revoke = sub.add_parser("revoke", help="revoke a client's key (by id or key prefix)")
        revoke.add_argument("client", help="client id, or the first characters of its key")

    def handle(self, *args, **options) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options) -> None:
        try:
            if options["if_missing"]:
                if not options["key"]:
                    raise CommandError("--if-missing needs --key.")
                client, created = client_ensure(
                    name=options["name"], key=options["key"], contact=options["contact"]
                )
                if not created:
                    self.stdout.write(f"Key already issued to #{client.pk} {client.name}.")
                    return
                key = options["key"]
            else:
                client, key = client_create(
                    name=options["name"], contact=options["contact"], key=options["key"]
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Issued key to #{client.pk} {client.name}:")
        self.stdout.write(f"  {key}")
        self.stdout.write("Store it now; it is not kept and cannot be shown again.")

    def _list(self, options) -> None:
        clients = Open311Client.objects.all()
        if not clients:
            self.stdout.write("No Open311 clients.")
        for client in clients:
            state = "active" if client.active else f"revoked {client.revoked_at:%Y-%m-%d %H:%M}"
            used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never"
            self.stdout.write(
                f"#{client.pk:<4} {client.key_prefix}…  {state:<24} last used {used:<16} "
                f"{client.name}" + (f" <{client.contact}>" if client.contact else "")
            )

    def _revoke(self, options) -> None:
        ref = options["client"]
        matches = Open311Client.objects.filter(key_prefix__startswith=ref)
        if ref.isdigit():
            matches = Open311Client.objects.filter(pk=int(ref)) or matches
        if len(matches) != 1:
            raise CommandError(
                f"No client matches '{ref}'." if not matches else f"'{ref}' matches several."
            )
        client = client_revoke(client=matches[0])
        self.stdout.write(f"Revoked the key of #{client.pk} {client.name}.")
