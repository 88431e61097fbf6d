from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from districts.services import district_import, service_area_import


class Command(BaseCommand):
    help = (
        "Import district boundaries from any OGR-readable file (GeoJSON, Shapefile, GeoPackage), "
        "reprojected to WGS 84. Idempotent by district code. Dry run unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--name-field", default="name")
        parser.add_argument("--code-field", default=None, help="default: slug of the name")
        parser.add_argument("--kind-field", default=None)
        parser.add_argument("--parent-field", default=None)
        parser.add_argument("--layer", type=int, default=0, help="layer index in the file")
        parser.add_argument(
            "--service-area",
            metavar="CODE",
            default=None,
            help="import the union of the layer as the service area CODE instead of districts",
        )
        parser.add_argument("--commit", action="store_true", help="write to the database")

    def handle(self, *args, **options) -> None:
        commit = options["commit"]
        try:
            if options["service_area"]:
                area, created = service_area_import(
                    path=options["path"],
                    code=options["service_area"],
                    name=options["service_area"].title(),
                    layer_index=options["layer"],
                    commit=commit,
                )
                verb = "created" if created else "updated"
                self.stdout.write(f"Service area {area.code} {verb}.")
            else:
                result = district_import(
                    path=options["path"],
                    name_field=options["name_field"],
                    code_field=options["code_field"],
                    kind_field=options["kind_field"],
                    parent_field=options["parent_field"],
                    layer_index=options["layer"],
                    commit=commit,
                    progress=self._progress,
                )
                self.stdout.write(
                    f"{len(result.created)} created, {len(result.updated)} updated, "
                    f"{len(result.unchanged)} unchanged."
                )
                for label, names in (("created", result.created), ("updated", result.updated)):
                    for name in names:
                        self.stdout.write(f"  {label}: {name}")
                if commit and (result.created or result.updated):
                    self.stdout.write(
                        "Boundaries changed: run `manage.py reports_reroute --commit` to route the "
                        "existing reports again."
                    )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if not commit:
            self.stdout.write(self.style.WARNING("Dry run: nothing saved. Add --commit to save."))

    def _progress(self, number: int, total: int, name: str) -> None:
        self.stdout.write(f"[{number}/{total}] {name}")
