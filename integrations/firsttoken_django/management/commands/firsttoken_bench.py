from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from firsttoken import BENCH_DEFAULTS, FirstTokenError, run_latency_bench

from ...state import get_engine


class Command(BaseCommand):
    help = (
        "Measure time to first token (p50/p95) and tokens/s for each profile against the configured upstream."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--profile", action="append", dest="profiles", help="profile to measure (repeatable)"
        )
        for option, name in (("--requests", "streams per profile"), ("--concurrency", "streams at once")):
            default = BENCH_DEFAULTS[option[2:]]
            parser.add_argument(option, type=int, default=default, help=f"{name} (default {default})")
        parser.add_argument(
            "--max-tokens",
            type=int,
            default=BENCH_DEFAULTS["max_tokens"],
            help=f"output budget per stream (default {BENCH_DEFAULTS['max_tokens']})",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            engine = get_engine()
            report = run_latency_bench(
                engine,
                profiles=options["profiles"],
                requests=options["requests"],
                concurrency=options["concurrency"],
                max_tokens=options["max_tokens"],
            )
        except FirstTokenError as exc:
            raise CommandError(f"firsttoken is misconfigured: {exc}") from None
        except (KeyError, ValueError) as exc:
            raise CommandError(str(exc.args[0])) from None
        if options["json"]:
            data = report.as_dict()
            # "profiles" is what this command printed before the three CLIs shared one report.
            self.stdout.write(json.dumps({**data, "profiles": data["results"]}, indent=2))
        else:
            self.stdout.write(report.table())
        if not any(row.ok for row in report.rows):
            raise CommandError(f"every request failed: {', '.join(report.rows[0].error_types)}")
