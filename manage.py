#!/usr/bin/env python
"""Django's command-line utility. Before a command runs, it finds or starts the services settings
describe (the embedded PostgreSQL and the local Redis; ``visualsearch.infra.services_ensure``),
except for the commands in ``NO_SERVICES``, which need none: they work in an image build, in CI
or with the services stopped."""

import os
import sys

from django.core.management import execute_from_command_line

from visualsearch.infra import ServiceError, services_ensure

# help, --help and --version also start nothing; `local_services` starts what its action needs itself.
# `check --database` checks the database and so does need it.
NO_SERVICES = {
    "check", "collectstatic", "diffsettings", "help", "local_services", "makemigrations", "version",
}  # fmt: skip


def needs_services(argv: list[str]) -> bool:
    if len(argv) < 2 or argv[1].startswith("-"):
        return False
    if argv[1] == "check":
        return any(arg == "--database" or arg.startswith("--database=") for arg in argv[2:])
    return argv[1] not in NO_SERVICES


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")
    if needs_services(sys.argv):
        try:
            services_ensure()
        except ServiceError as exc:
            sys.exit(f"{exc}")

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
