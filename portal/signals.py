from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.audit import audit_record
from portal.net import client_ip


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    audit_record(action="auth.login", obj=user, actor=user, ip=client_ip(request) if request else None)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="auth.logout", obj=user, actor=user, ip=client_ip(request) if request else None)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    # NOTE: only the identifier tried is kept, never the password.
    tried = str(credentials.get("username") or credentials.get("email") or "")[:150]
    audit_record(
        action="auth.login_failed",
        object_type="auth.attempt",
        object_repr=tried,
        ip=client_ip(request) if request is not None else None,
    )
