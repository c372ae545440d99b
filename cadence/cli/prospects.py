"""``cadence prospects import``: prospects from a CSV file, all rows or none."""

from pathlib import Path
from typing import Annotated

import typer

from cadence.cli.console import err_console, print_json
from cadence.cli.context import app_context, cli_actor
from cadence.cli.options import JsonFlag, OwnerOption
from cadence.sequences.prospect_import import import_prospects

prospects_app = typer.Typer(help="Prospects: import from CSV.", no_args_is_help=True)


@prospects_app.command("import")
def prospects_import(
    file: Annotated[Path, typer.Argument(help="CSV with an email column.")],
    owner: OwnerOption = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows even if some fail.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import prospects; idempotent by email. With any invalid row nothing is imported."""
    with app_context() as ctx:
        report = import_prospects(
            ctx, file, owner=owner, actor=cli_actor(), skip_invalid=skip_invalid
        )
    written = not report.rejected or skip_invalid
    if as_json:
        print_json(
            {
                "file": str(file),
                "written": written,
                "imported": len(report.imported),
                "updated": len(report.updated),
                "unchanged": len(report.unchanged),
                "rejected": [
                    {"line": r.line, "email": r.email, "reason": r.reason} for r in report.rejected
                ],
                "rows": report.rows(),
            }
        )
    else:
        for row in report.rejected:
            err_console.print(
                f"{file}:{row.line}: {row.email or '-'}: {row.reason}",
                highlight=False,
                markup=False,
            )
        err_console.print(
            f"imported {len(report.imported)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}, rejected {len(report.rejected)}"
            + ("" if written else " — nothing written; fix the rows above or pass --skip-invalid")
        )
    if report.rejected and not skip_invalid:
        raise typer.Exit(1)
