from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from firsttoken import FirstTokenError

from ...bench import bench_profile
from ...state import get_engine


class Command(BaseCommand):
    help = (
        "Measure time to first token (p50/p95) and tokens/s for each profile against the configured upstream."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--profile", action="append", dest="profiles", help="profile to measure (repeatable)"
        )
        parser.add_argument("--requests", type=int, default=10, help="streams per profile (default 10)")
        parser.add_argument("--max-tokens", type=int, default=None, help="override each profile's max_tokens")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            engine = get_engine()
        except FirstTokenError as exc:
            raise CommandError(f"firsttoken is misconfigured: {exc}") from None
        if options["requests"] < 1:
            raise CommandError("--requests must be at least 1")
        names = options["profiles"] or sorted(engine.settings.profiles)
        unknown = [n for n in names if n not in engine.settings.profiles]
        if unknown:
            raise CommandError(
                f"unknown profile {unknown[0]!r}; profiles are {', '.join(sorted(engine.settings.profiles))}"
            )
        results = [
            bench_profile(engine, name, requests=options["requests"], max_tokens=options["max_tokens"])
            for name in names
        ]
        upstream = engine.upstream.describe()
        if options["json"]:
            self.stdout.write(json.dumps({"upstream": upstream, "profiles": results}, indent=2))
        else:
            self.stdout.write(f"upstream: {upstream['description']}")
            self.stdout.write(
                f"{'profile':<12} {'model':<24} {'ok':>6} {'ttft p50':>10} {'ttft p95':>10} {'tok/s':>8}"
            )
            for r in results:
                self.stdout.write(
                    f"{r['profile']:<12} {r['model']:<24} {r['ok']:>3}/{r['requests']:<2} "
                    f"{_ms(r['ttft_p50_ms']):>10} {_ms(r['ttft_p95_ms']):>10} {r['tps_p50'] or '-':>8}"
                )
        if not any(r["ok"] for r in results):
            raise CommandError(f"every request failed: {results[0]['errors']}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
