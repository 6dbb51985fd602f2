"""Start the test Micropub site: migrate, mint a token, serve on a free loopback port.

Run with the micropub venv's python:  serve.py DATA_DIR
Prints one line `READY <port> <token>` on stdout once it accepts connections,
then serves until killed. Binding port 0 here avoids racing for a free port.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    data_dir = Path(sys.argv[1]).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["MICROPUB_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mpsite.settings")
    sys.path.insert(0, str(HERE))

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application
    from indieweb.models import Token

    call_command("migrate", verbosity=0, interactive=False)
    # Import the URLconf now: a broken site then fails here, not on the first request.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018
    user, _ = get_user_model().objects.get_or_create(username="tester")
    raw = Token.make_raw_key()
    Token.objects.create(
        key=raw,
        owner=user,
        client_id="https://github.com/veille-reader/veille",
        me="http://127.0.0.1/",
        scope="create update",
    )

    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    print(f"READY {server.server_address[1]} {raw}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
