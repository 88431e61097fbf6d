from django.conf import settings
from django.core.management.base import BaseCommand

from demo.loaders import OPEN311_DEMO_KEY, demo_logins


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **options) -> None:
        self.stdout.write("Demo logins (user / password / role):")
        for username, password, role in demo_logins():
            self.stdout.write(f"  {username:<18} {password:<15} {role}")
        self.stdout.write(
            f"Open311 GeoReport v2: {settings.SITE_URL.rstrip('/')}/open311/v2/ "
            f"(discovery: /open311/discovery.xml), demo api_key: {OPEN311_DEMO_KEY}"
        )
