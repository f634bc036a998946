from __future__ import annotations

from typing import Any

import anthropic
from django.core.management.base import BaseCommand, CommandError, CommandParser

from firsttoken import FirstTokenError

from ...state import get_engine, reload_engine


class Command(BaseCommand):
    help = "Validate settings.FIRSTTOKEN and make one tiny streamed call to the configured upstream."

    requires_system_checks = ["firsttoken"]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--profile", default=None, help="profile whose model is called (default: DEFAULT_PROFILE)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The settings as they are now, not as they were when the app started.
        reload_engine()
        try:
            engine = get_engine()
        except FirstTokenError as exc:
            raise CommandError(f"firsttoken is misconfigured: {exc}") from None
        upstream = engine.upstream.describe()
        try:
            profile = engine.profile(options["profile"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from None
        # The probe is the command's, not the app's: advice on it (prompt uncached) would be about
        # nothing the app does. The engine was built for this command alone (reload_engine above).
        engine.advisor.enabled = False
        messages = [{"role": "user", "content": "Reply with one word: ok."}]
        try:
            with engine.stream(messages=messages, profile=options["profile"], max_tokens=5) as stream:
                stream.text()
        except anthropic.APIStatusError as exc:
            raise CommandError(
                f"{upstream['description']} refused a call to {profile.model}: HTTP {exc.status_code} "
                f"({_kind(exc)}); check the API key and the model id"
            ) from None
        except anthropic.APIError as exc:
            raise CommandError(f"could not reach {upstream['description']}: {type(exc).__name__}") from None
        except FirstTokenError as exc:
            raise CommandError(f"{upstream['description']} failed mid-stream: {exc}") from None
        ttft = stream.timings.ttft
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {upstream['description']} answered {stream.model}"
                + ("" if ttft is None else f", first token in {ttft * 1000:.0f} ms")
            )
        )


def _kind(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", "error"))
    return "error"
