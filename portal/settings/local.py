"""Local development: the embedded defaults, with debug pages."""

from portal.settings.base import *  # noqa: F403 -- a settings layer extends the base namespace

DEBUG = env.bool("DEBUG", default=True)  # noqa: F405

# Award notices are signed with the demo certificate that seed_demo writes under var/signing/
# unless the environment names the ministry's key (portal/settings/base.py).
_DEMO_SIGNING = NOTICE_SIGNING_DEMO_DIR  # noqa: F405
NOTICE_SIGNING_KEY_FILE = NOTICE_SIGNING_KEY_FILE or str(_DEMO_SIGNING / "signer.p12")  # noqa: F405
if NOTICE_SIGNING_KEY_FILE == str(_DEMO_SIGNING / "signer.p12") and not NOTICE_SIGNING_PASSPHRASE:  # noqa: F405
    NOTICE_SIGNING_PASSPHRASE_FILE = NOTICE_SIGNING_PASSPHRASE_FILE or str(_DEMO_SIGNING / "signer.passphrase")  # noqa: F405
NOTICE_SIGNING_TRUST_ROOTS = NOTICE_SIGNING_TRUST_ROOTS or str(_DEMO_SIGNING / "ca.pem")  # noqa: F405
