"""Create the Superset admin from the environment, or reset its password to it; idempotent.

``superset fab create-admin`` does nothing for an existing user, so a changed
``SUPERSET_ADMIN_PASSWORD`` would never apply. Runs in Superset's interpreter after
``superset db upgrade`` (and before ``superset init``, which only needs the roles).
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    username = os.environ["SUPERSET_ADMIN_USERNAME"]
    password = os.environ["SUPERSET_ADMIN_PASSWORD"]
    email = os.environ.get("SUPERSET_ADMIN_EMAIL", f"{username}@localhost")

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager

        user = security_manager.find_user(username=username)
        if user is None:
            role = security_manager.find_role("Admin") or security_manager.add_role("Admin")
            user = security_manager.add_user(username, "Trips", "Admin", email, role, password)
            if not user:
                print(f"could not create the admin {username!r}", file=sys.stderr)
                return 1
            print(f"admin {username!r} created")
        else:
            security_manager.reset_password(user.id, password)
            print(f"admin {username!r} exists: password set from the environment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
