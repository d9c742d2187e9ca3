import json

from django.core.management.base import BaseCommand

from portal.demo import seed


class Command(BaseCommand):
    help = "Create (or complete) the fictional demo programme and print its logins."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print accounts and ids as JSON")

    def handle(self, *args, **options):
        result = seed()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
            return
        self.stdout.write(self.style.SUCCESS("Demo programme ready (all data is fictional)."))
        self.stdout.write("Logins (username / password / role):")
        for account in result["accounts"]:
            line = f"  {account['username']:<14} {account['password']:<24} {account['role']}"
            if account.get("totp_secret"):
                line += (
                    f"  (TOTP secret {account['totp_secret']}; current code: manage.py demo_totp {account['username']})"
                )
            self.stdout.write(line)
