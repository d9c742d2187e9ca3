import json
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from portal.demo import seed

#: Where the e-mails the demo sends (invitations, receipts, notices) are written, one file each.
DEMO_MAIL_DIR = Path(settings.BASE_DIR) / "var" / "demo-mail"


@contextmanager
def quietly():
    """The seeding's own chatter (task log lines, warnings) stays out of the output: the
    logins are what a person needs to read, and they come last and alone."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


class Command(BaseCommand):
    help = "Create (or complete) the fictional demo programme and print its logins."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print accounts and ids as JSON")

    def handle(self, *args, **options):
        DEMO_MAIL_DIR.mkdir(parents=True, exist_ok=True)
        mail = {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(DEMO_MAIL_DIR),
        }
        with quietly(), override_settings(**mail):
            result = seed()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
            return
        self.stdout.write(self.style.SUCCESS("Demo programme ready (all data is fictional)."))
        signing = result.get("notice_signing") or {}
        if signing.get("subject"):
            self.stdout.write(
                f"Award notices are signed with the demo certificate {signing['subject']} "
                f"(key, passphrase and CA in {signing['directory']}, outside the database and the repository)."
            )
        self.stdout.write(f"E-mails the demo sent are in {DEMO_MAIL_DIR.relative_to(settings.BASE_DIR)}/.")
        self.stdout.write("")
        accounts = result["accounts"]
        self.stdout.write(f"Logins ({len(accounts)} demo accounts; username / password / role):")
        for account in accounts:
            line = f"  {account['username']:<14} {account['password']:<24} {account['role']}"
            if account.get("totp_secret"):
                line += (
                    f"  (TOTP secret {account['totp_secret']}; current code: manage.py demo_totp {account['username']})"
                )
            self.stdout.write(line)
