from django.core.management.base import BaseCommand

from civicmap.demo import demo_logins


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **options) -> None:
        self.stdout.write("Demo logins (user / password / role):")
        for username, password, role in demo_logins():
            self.stdout.write(f"  {username:<18} {password:<15} {role}")
