"""Print session cookies for benchmark users, as a signed-in browser would hold them.

Sessions are created exactly as ``Client.force_login`` does (staff sessions carry the
second-factor flag that the login flow sets), so the load client skips the login form.
"""

import json

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from portal.middleware import SECOND_FACTOR_OK_KEY
from portal.models import User


class Command(BaseCommand):
    help = "Create sessions for the named users and print {username: session key} as JSON."

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="+")

    def handle(self, *args, **options):
        store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
        keys = {}
        for user in User.objects.filter(username__in=options["usernames"]):
            session = store_class()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session[SECOND_FACTOR_OK_KEY] = True
            session.create()
            keys[user.username] = session.session_key
        self.stdout.write(json.dumps(keys))
