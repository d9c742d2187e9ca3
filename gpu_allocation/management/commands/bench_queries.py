"""Count the SQL queries each benchmark target costs, in-process, as the given user."""

import json

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.models import User


def signed_in_client(username: str | None) -> Client:
    """A test client signed in as ``username`` past the second factor (anonymous for None)."""
    client = Client(HTTP_ACCEPT_LANGUAGE="ko")
    if username:
        client.force_login(User.objects.get(username=username))
        session = client.session
        session["portal_second_factor_ok"] = True
        session.save()
    return client


class Command(BaseCommand):
    help = "Read targets as JSON [{name, path, user, token?}] from a file and print {name: [status, queries]}."

    def add_arguments(self, parser):
        parser.add_argument("targets_file")

    def handle(self, *args, **options):
        with open(options["targets_file"], encoding="utf-8") as handle:
            targets = json.load(handle)
        counts = {}
        for target in targets:
            client = signed_in_client(target.get("user"))
            client.get(target["path"])  # warm caches (sessions, content types)
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(target["path"])
            counts[target["name"]] = [response.status_code, len(ctx.captured_queries)]
        self.stdout.write(json.dumps(counts))
