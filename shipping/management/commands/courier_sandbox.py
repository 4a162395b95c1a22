"""``manage.py courier_sandbox``: serve the four couriers' sandbox until interrupted."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from shipping.sandbox import COURIER_APIS, SandboxServer


class Command(BaseCommand):
    help = "Serve the courier sandbox (DHL Express, Australia Post, FedEx, UPS shapes) until SIGINT/SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--key", default="sandbox")
        parser.add_argument("--secret", default="sandbox-secret")
        parser.add_argument(
            "--advance-every",
            type=float,
            default=60.0,
            help="seconds between tracking steps of each shipment (0 = only on POST /_sandbox/advance)",
        )
        parser.add_argument("--token-ttl", type=float, default=3600.0, help="OAuth token lifetime in seconds")

    def handle(self, *args, **options):
        sandbox = SandboxServer(
            host=options["host"],
            port=options["port"],
            key=options["key"],
            secret=options["secret"],
            advance_every=options["advance_every"],
            token_ttl=options["token_ttl"],
        )
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            sandbox.start()
            self.stdout.write(f"courier sandbox on {sandbox.url} (advance every {sandbox.advance_every:g}s)")
            for code in COURIER_APIS:
                self.stdout.write(f"  {code}: {sandbox.base_url(code)}")
            self.stdout.flush()
            sandbox.serve_until(stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("courier sandbox stopped")
