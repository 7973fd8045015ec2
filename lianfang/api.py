"""The JSON API (OpenAPI at /api/docs). Session authentication; the same access helpers as pages."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import File, NinjaAPI, Query, Schema, Status
from ninja.files import UploadedFile
from ninja.security import django_auth

from lianfang.core import access, exports, importer, services
from lianfang.core.http import AuthedRequest, xlsx_response
from lianfang.core.models import ImportJob, Person, PointOfInterest, Road
from lianfang.core.services import RegisterError

api = NinjaAPI(title="联防 Lianfang API", version="1", auth=django_auth, urls_namespace="api")


def _add_routers() -> None:
    from lianfang.checkpoints.api import router as gate_router
    from lianfang.masstesting.api import router as masstesting_router
    from lianfang.rosters.api import router as roster_router

    api.add_router("/gate", gate_router)
    api.add_router("/rosters", roster_router)
    api.add_router("/masstesting", masstesting_router)


_add_routers()


class ErrorOut(Schema):
    code: str
    message: str


@api.exception_handler(RegisterError)
def register_error(request: HttpRequest, exc: RegisterError) -> HttpResponse:
    return api.create_response(request, {"code": exc.code, "message": exc.message}, status=400)


@api.exception_handler(importer.ImportFileError)
def import_error(request: HttpRequest, exc: importer.ImportFileError) -> HttpResponse:
    return api.create_response(request, {"code": exc.code, "message": exc.message}, status=400)


class PersonOut(Schema):
    id: int
    name: str
    village_id: int
    village: str
    grid_id: int | None
    household_id: int | None
    relation: str
    doc_type: str
    doc_masked: str
    phone_masked: str
    sex: str
    age: int | None  # never the birth date: with the mask it would give the whole ID
    population_type: str
    elderly_alone: bool
    no_smartphone: bool
    limited_mobility: bool
    student: bool
    party_member: bool

    @staticmethod
    def resolve_village(obj: Person) -> str:
        return obj.village.name


class PersonPage(Schema):
    count: int
    page: int
    pages: int
    items: list[PersonOut]


class PersonFilters(Schema):
    q: str = ""
    village: int | None = None
    grid: int | None = None
    population_type: str = ""
    page: int = 1


def _persons(request: AuthedRequest, filters: PersonFilters) -> Any:
    qs = access.persons_for_user(request.user)
    if filters.village:
        qs = qs.filter(village_id=filters.village)
    if filters.grid:
        qs = qs.filter(grid_id=filters.grid)
    if filters.population_type:
        qs = qs.filter(population_type=filters.population_type)
    if filters.q:
        qs = services.search_persons(qs, filters.q)
    return qs


@api.get("/people", response=PersonPage, tags=["register"])
def list_people(request: AuthedRequest, filters: Query[PersonFilters]) -> dict[str, Any]:
    qs = _persons(request, filters).select_related("village").order_by("village_id", "household_id", "pk")
    paginator = Paginator(qs, 50)
    page = paginator.get_page(filters.page)
    return {"count": paginator.count, "page": page.number, "pages": paginator.num_pages, "items": list(page)}


@api.get("/people/export.xlsx", tags=["register"])
def export_people(request: AuthedRequest, filters: Query[PersonFilters]) -> HttpResponse:
    data = exports.persons_xlsx(request.user, _persons(request, filters), unmasked=False, reason="API",
                                filters=filters.dict(), ip=request.META.get("REMOTE_ADDR"))
    return xlsx_response(data, "persons.xlsx")


@api.get("/people/{person_id}", response=PersonOut, tags=["register"])
def get_person(request: AuthedRequest, person_id: int) -> Person:
    return access.get_person_for_user(request.user, person_id)


class RevealIn(Schema):
    field: str
    reason: str


class RevealOut(Schema):
    field: str
    value: str


@api.post("/people/{person_id}/reveal", response={200: RevealOut, 400: ErrorOut}, tags=["register"])
def reveal_person(request: AuthedRequest, person_id: int, payload: RevealIn) -> Any:
    person = access.get_person_for_user(request.user, person_id)
    revealed = services.reveal(request.user, person, payload.field, payload.reason,
                               request.META.get("REMOTE_ADDR"))
    return {"field": revealed.field, "value": revealed.value}


class VillageOut(Schema):
    id: int
    code: str
    name: str
    kind: str


@api.get("/villages", response=list[VillageOut], tags=["register"])
def list_villages(request: AuthedRequest) -> Any:
    return access.villages_for_user(request.user).order_by("code")


class ImportJobOut(Schema):
    id: int
    status: str
    filename: str
    total_rows: int
    persons_created: int
    households_created: int
    error_count: int
    message: str
    errors: list[dict[str, Any]]
    progress: dict[str, Any]

    @staticmethod
    def resolve_progress(obj: ImportJob) -> dict[str, Any]:
        return importer.read_progress(obj.pk)


@api.post("/imports", response={201: ImportJobOut, 400: ErrorOut}, tags=["import"])
def create_import(request: AuthedRequest, file: File[UploadedFile]) -> Any:
    from lianfang.core.forms import ImportForm

    form = ImportForm(files=MultiValueDict({"file": [file]}))
    if not form.is_valid():
        raise RegisterError("file_invalid", "；".join(str(e) for e in form.errors["file"]))
    return Status(201, importer.start_import(request.user, form.cleaned_data["file"]))


@api.get("/imports/{job_id}", response=ImportJobOut, tags=["import"])
def get_import(request: AuthedRequest, job_id: int) -> Any:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(ImportJob, pk=job_id, created_by=request.user)


@api.get("/map/layers", tags=["map"])
def map_layers(request: AuthedRequest) -> dict[str, Any]:
    """GeoJSON of the places the user may see: villages, zones, roads, points of interest, gates."""
    from lianfang.checkpoints.models import Gate
    from lianfang.core.models import Zone, ZoneMembership

    user: Any = request.user
    villages = access.villages_for_user(user)
    sub_id = user.scope_subdistrict_id

    def fc(features: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": features}

    def feature(geometry: Any, **props: Any) -> dict[str, Any]:
        return {"type": "Feature", "geometry": geometry, "properties": props}

    zones = Zone.objects.filter(subdistrict_id=sub_id)
    village_zone = dict(
        ZoneMembership.objects.filter(village__in=villages, valid_to__isnull=True)
        .values_list("village_id", "zone__name")
    )
    return {
        "villages": fc([feature(v.geometry, id=v.pk, name=v.name, code=v.code, kind=v.get_kind_display(),
                                zone=village_zone.get(v.pk, "")) for v in villages if v.geometry]),
        "zones": fc([feature(z.geometry, id=z.pk, name=z.name) for z in zones if z.geometry]),
        "roads": fc([feature(r.geometry, name=r.name, road_class=r.road_class, oneway=r.oneway)
                     for r in Road.objects.filter(subdistrict_id=sub_id).only("geometry", "name", "road_class",
                                                                              "oneway")]),
        "pois": fc([feature(p.geometry, id=p.pk, name=p.name, kind=p.kind, kind_label=p.get_kind_display(),
                            contact=p.contact_name, phone=p.contact_phone)
                    for p in PointOfInterest.objects.filter(subdistrict_id=sub_id)]),
        "gates": fc([feature(g.geometry, id=g.pk, name=g.name, kind=g.get_kind_display())
                     for g in Gate.objects.filter(subdistrict_id=sub_id) if g.geometry]),
        "synthetic": Road.objects.filter(subdistrict_id=sub_id, synthetic=True).exists(),
    }


# --- key-person cases -----------------------------------------------------------------------

class CaseOut(Schema):
    id: int
    name: str
    doc_masked: str
    person_id: int | None
    village_id: int | None
    category: str
    exposure_date: datetime.date
    stage: str
    stage_entered_at: datetime.datetime
    plan: dict[str, Any]
    plan_end: datetime.date | None
    closed_at: datetime.datetime | None


class CaseIn(Schema):
    source: str
    category: str
    exposure_date: datetime.date
    person_id: int | None = None
    name: str = ""
    doc_type: str = "resident_id"
    doc_number: str = ""
    phone: str = ""
    village_id: int | None = None
    reference: str = ""
    address: str = ""
    nonce: str | None = None


class CaseOpened(Schema):
    created: bool
    case: CaseOut


class AdvanceIn(Schema):
    to_stage: str
    note: str = ""
    village_id: int | None = None


def _control_error(exc: Exception) -> RegisterError:
    return RegisterError(getattr(exc, "code", "error"), getattr(exc, "message", str(exc)))


@api.get("/cases", response=list[CaseOut], tags=["cases"])
def list_cases(request: AuthedRequest, stage: str = "", open_only: bool = True) -> Any:
    from lianfang.control import access as control_access

    qs = control_access.cases_for_user(request.user)
    if open_only:
        qs = qs.filter(closed_at__isnull=True)
    if stage:
        qs = qs.filter(stage=stage)
    return qs.order_by("-opened_at")[:500]


@api.post("/cases", response={200: CaseOpened, 201: CaseOpened, 400: ErrorOut}, tags=["cases"])
def open_case(request: AuthedRequest, payload: CaseIn) -> Any:
    """Open a case, or merge into the person's open case. A repeated nonce returns the same case."""
    from lianfang.control import services as control

    user = request.user
    if not user.can_manage_cases or user.scope_subdistrict is None:
        raise RegisterError("case_forbidden", "您的角色无权登记重点人员")
    person = access.get_person_for_user(user, payload.person_id) if payload.person_id else None
    if person is None and not user.is_command:
        raise RegisterError("case_forbidden", "村/社区只能为本辖区名册人员登记")
    village = access.get_village_for_user(user, payload.village_id) if payload.village_id else None
    try:
        case, created = control.open_case(
            user.scope_subdistrict, control.Subject(person=person, name=payload.name, doc_type=payload.doc_type,
                                                    doc_number=payload.doc_number, phone=payload.phone),
            source=payload.source, category=payload.category, exposure_date=payload.exposure_date,
            reference=payload.reference, nonce=payload.nonce, user=user, village=village, address=payload.address)
    except (control.ControlError, ValueError) as exc:
        raise _control_error(exc) from exc
    from lianfang.control import access as control_access

    if not control_access.cases_for_user(user).filter(pk=case.pk).exists():
        from django.http import Http404

        raise Http404("不存在，或不在您的管辖范围内")
    return Status(201 if created else 200, {"created": created, "case": case})


@api.get("/cases/{case_id}", response=CaseOut, tags=["cases"])
def get_case(request: AuthedRequest, case_id: int) -> Any:
    from lianfang.control import access as control_access

    return control_access.get_case_for_user(request.user, case_id)


@api.post("/cases/{case_id}/advance", response={200: CaseOut, 400: ErrorOut}, tags=["cases"])
def advance_case(request: AuthedRequest, case_id: int, payload: AdvanceIn) -> Any:
    from lianfang.control import access as control_access
    from lianfang.control import services as control

    case = control_access.get_case_for_user(request.user, case_id)
    village = access.get_village_for_user(request.user, payload.village_id) if payload.village_id else None
    try:
        return control.advance(case, request.user, payload.to_stage, note=payload.note, village=village)
    except (control.ControlError, ValueError) as exc:
        raise _control_error(exc) from exc
