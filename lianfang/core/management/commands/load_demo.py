from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lianfang.core.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the Hezhuang sub-district demo (synthetic geometry and population). Re-running reuses it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--persons", type=int, default=20_000, help="synthetic persons (up to 150000)")
        parser.add_argument("--seed", type=int, default=2022)

    def handle(self, *args: Any, **options: Any) -> None:
        persons = options["persons"]
        if not 100 <= persons <= 150_000:
            self.stderr.write("--persons must be between 100 and 150000")
            raise SystemExit(2)
        started = time.monotonic()
        summary = load_demo(persons=persons, seed=options["seed"])
        from lianfang.control.demo import load_control_demo

        control = load_control_demo(summary.subdistrict)
        from lianfang.checkpoints.demo import load_gate_demo

        gates = load_gate_demo(summary.subdistrict)
        from lianfang.checkins.demo import load_checkin_demo

        checkins = load_checkin_demo(summary.subdistrict)
        from lianfang.rosters.demo import load_roster_demo

        rosters = load_roster_demo(summary.subdistrict)
        from lianfang.masstesting.demo import load_masstesting_demo

        masstesting = load_masstesting_demo(summary.subdistrict)
        verb = "Loaded" if summary.created else "Reusing"
        self.stdout.write(f"{verb} {summary.subdistrict.name} ({summary.subdistrict.code}): "
                          f"{summary.persons} persons in {time.monotonic() - started:.1f} s")
        self.stdout.write(f"Key-person cases: {control['cases']}; gate scans: {gates['scans']}; "
                          f"roll-call groups: {checkins['groups']}")
        if rosters:
            self.stdout.write("Rosters: " + ", ".join(f"{k} {v}" for k, v in rosters.items()))
        if masstesting:
            self.stdout.write("Mass testing: " + ", ".join(f"{k} {v}" for k, v in masstesting.items()))
        self.stdout.write(f"\nDemo logins (password: {DEMO_PASSWORD}):")
        for username, role, scope in summary.users:
            self.stdout.write(f"  {username:<16} {role:<10} {scope}")
        self.stdout.write(f"  {'transfer':<16} {'转运专班':<10} {summary.subdistrict.name}")
