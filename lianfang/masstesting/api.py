"""The 全员核酸 API: tubes, samples (single and a device's queue, with nonces), person lookup for
samplers, bags and their hand-over, result imports and coverage. Session-authenticated."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from lianfang.core import services as register
from lianfang.core.access import denied
from lianfang.core.http import AuthedRequest
from lianfang.core.importer import ImportFileError
from lianfang.core.services import RegisterError
from lianfang.masstesting import access, results, services
from lianfang.masstesting.models import Lane, ResultImport, Round, Tube
from lianfang.masstesting.services import MassTestError

router = Router(tags=["masstesting"])


def _error(exc: MassTestError) -> RegisterError:
    return RegisterError(exc.code, exc.message)


class TubeIn(Schema):
    barcode: str
    site_id: int | None = None
    lane_id: int | None = None
    kind: str = ""
    pool_size: int | None = None
    home: bool = False


class TubeOut(Schema):
    barcode: str
    kind: str
    pool_size: int
    count: int
    status: str
    site_id: int | None
    lane_id: int | None
    home: bool
    created: bool = False
    members: list[str] = []


def _tube_out(tube: Tube, created: bool = False) -> dict[str, Any]:
    members = list(tube.samples.order_by("pk").values_list("person__name", flat=True)) if tube.pk else []
    return {"barcode": tube.barcode, "kind": tube.kind, "pool_size": tube.pool_size, "count": tube.count,
            "status": tube.status, "site_id": tube.site_id, "lane_id": tube.lane_id, "home": tube.home,
            "created": created, "members": members}


class SampleItem(Schema):
    nonce: str
    tube: str
    person_id: int | None = None
    doc_number: str = ""
    doc_type: str = "resident_id"
    device_time: dt.datetime | None = None
    device_id: str = ""
    code_colour: str = ""
    entered_by: str = "scan"
    pool_size: int | None = None  # in a batch: open this (unknown) tube at the batch's site and lane
    kind: str = ""


class SampleResult(Schema):
    nonce: str
    ok: bool
    created: bool = False
    sample_id: int | None = None
    person_id: int | None = None
    name: str = ""
    doc_masked: str = ""
    tube: str = ""
    tube_count: int = 0
    tube_size: int = 0
    tube_closed: bool = False
    duplicate: bool = False
    duplicate_of: str = ""
    alert: str = ""
    retest: bool = False
    error_code: str = ""
    error: str = ""
    warnings: list[str] = []


class BatchIn(Schema):
    samples: list[SampleItem]
    site_id: int | None = None  # where the device stands: tubes it opened offline open here
    lane_id: int | None = None
    home: bool = False


class BatchOut(Schema):
    results: list[SampleResult]


class PersonHit(Schema):
    id: int
    name: str
    doc_masked: str
    village: str
    address: str
    student: bool
    elderly: bool
    sampled: bool


class BagIn(Schema):
    code: str
    site_id: int | None = None


class HandOverIn(Schema):
    code: str
    lab: str


class BagOut(Schema):
    code: str
    status: str
    tubes: int
    lab: str
    handed_over_at: dt.datetime | None


class ImportOut(Schema):
    id: int
    status: str
    filename: str
    total_rows: int
    negatives: int
    positives: int
    invalids: int
    error_count: int
    message: str
    errors: list[dict[str, Any]]
    progress: dict[str, Any]

    @staticmethod
    def resolve_progress(obj: ResultImport) -> dict[str, Any]:
        return results.read_progress(obj.pk)


class CoverageRowOut(Schema):
    key: int | None
    label: str
    registered: int
    exempt: int
    expected: int
    sampled: int
    untested: int
    rate: float
    village: str = ""  # of a grid (level=grid)


class RoundOut(Schema):
    id: int
    name: str
    status: str
    starts_at: dt.datetime
    deadline: dt.datetime
    default_pool_size: int


def _round(request: AuthedRequest, round_id: int) -> Round:
    return access.get_round_for_user(request.user, round_id)


def _tube_checker(request: AuthedRequest) -> Any:
    cache: dict[int, bool] = {}
    user = request.user

    def may_use(tube: Tube) -> bool:
        if tube.site_id is None:  # a home visit's tube: its opener's (or the command centre's)
            return bool(user.is_command or tube.opened_by_id == user.pk)
        if tube.site_id not in cache:  # once per site and request
            site = tube.site
            cache[tube.site_id] = bool(site and access.may_sample_at(user, site))
        return cache[tube.site_id]

    return may_use


@router.get("/rounds", response=list[RoundOut])
def list_rounds(request: AuthedRequest) -> Any:
    return access.rounds_for_user(request.user).order_by("-starts_at")[:100]


@router.post("/rounds/{round_id}/tubes", response={200: TubeOut, 201: TubeOut})
def open_tube(request: AuthedRequest, round_id: int, payload: TubeIn) -> Any:
    rnd = _round(request, round_id)
    user = request.user
    site = access.get_site_for_user(user, rnd, payload.site_id) if payload.site_id else None
    if site is not None and not access.may_sample_at(user, site):
        raise RegisterError("sampling_forbidden", "您不是该采样点的工作人员")
    if site is None and not (payload.home and access.may_sample_in(user, rnd)):
        raise RegisterError("sampling_forbidden", "请选择采样点，或以上门采样方式开管")
    lane = Lane.objects.filter(site=site, pk=payload.lane_id).first() if payload.lane_id and site else None
    if payload.lane_id and lane is None:
        raise denied(user, "sampling_lane", payload.lane_id)
    try:
        tube, created = services.open_tube(rnd, payload.barcode, user, site=site, lane=lane, kind=payload.kind,
                                           pool_size=payload.pool_size, home=payload.home)
    except MassTestError as exc:
        raise _error(exc) from exc
    if not created and not _tube_checker(request)(tube):
        raise RegisterError("tube_elsewhere", f"试管 {tube.barcode} 正在其他采样点使用")
    return Status(201 if created else 200, _tube_out(tube, created))


@router.post("/rounds/{round_id}/tubes/{barcode}/close", response=TubeOut)
def close_tube(request: AuthedRequest, round_id: int, barcode: str) -> Any:
    rnd = _round(request, round_id)
    tube = Tube.objects.filter(round=rnd, barcode=barcode.strip().upper()).select_related("site").first()
    if tube is None or not _tube_checker(request)(tube):
        raise denied(request.user, "tube", barcode)
    try:
        return _tube_out(services.close_tube(tube))
    except MassTestError as exc:
        raise _error(exc) from exc


def _items(payload: list[SampleItem]) -> list[services.SampleIn]:
    return [services.SampleIn(**item.dict()) for item in payload]


@router.post("/rounds/{round_id}/samples", response=SampleResult)
def record_sample(request: AuthedRequest, round_id: int, payload: SampleItem) -> Any:
    """One person into one tube. A repeated nonce is acknowledged and never recorded twice."""
    rnd = _round(request, round_id)
    try:
        return services.record_samples(request.user, rnd, _items([payload]), may_use=_tube_checker(request))[0]
    except MassTestError as exc:
        raise _error(exc) from exc


@router.post("/rounds/{round_id}/samples/batch", response=BatchOut)
def record_batch(request: AuthedRequest, round_id: int, payload: BatchIn) -> Any:
    """A device's queue (up to 1,000): each item judged alone, the accepted ones written together."""
    rnd = _round(request, round_id)
    user = request.user
    open_at = None
    if payload.site_id:
        site = access.get_site_for_user(user, rnd, payload.site_id)
        if not access.may_sample_at(user, site):
            raise RegisterError("sampling_forbidden", "您不是该采样点的工作人员")
        lane = Lane.objects.filter(site=site, pk=payload.lane_id).first() if payload.lane_id else None
        if payload.lane_id and lane is None:
            raise denied(user, "sampling_lane", payload.lane_id)
        open_at = services.OpenAt(site=site, lane=lane)
    elif payload.home and access.may_sample_in(user, rnd):
        open_at = services.OpenAt(home=True)
    try:
        return {"results": services.record_samples(user, rnd, _items(payload.samples),
                                                   may_use=_tube_checker(request), open_at=open_at)}
    except MassTestError as exc:
        raise _error(exc) from exc


@router.get("/rounds/{round_id}/persons", response=list[PersonHit])
def find_persons(request: AuthedRequest, round_id: int, q: str = "") -> Any:
    """Name, pinyin, initials, last four or full ID of people in the round's villages (for samplers)."""
    rnd = _round(request, round_id)
    if not access.may_sample_in(request.user, rnd):
        raise RegisterError("sampling_forbidden", "您不是本轮的采样人员")
    if len(q.strip()) < 2:
        return []
    qs = register.search_persons(access.sampling_persons(rnd), q).select_related("village", "household__building")
    hits = list(qs[:20])
    sampled = set(rnd.samples.filter(person_id__in=[p.pk for p in hits]).values_list("person_id", flat=True))
    return [{"id": p.pk, "name": p.name, "doc_masked": p.doc_masked, "village": p.village.name,
             "address": p.household.address if p.household else "", "student": p.student,
             "elderly": p.elderly_alone or (p.age or 0) >= 70, "sampled": p.pk in sampled} for p in hits]


@router.post("/rounds/{round_id}/bags", response={201: BagOut})
def pack_bag(request: AuthedRequest, round_id: int, payload: BagIn) -> Any:
    rnd = _round(request, round_id)
    site = access.get_site_for_user(request.user, rnd, payload.site_id) if payload.site_id else None
    if site is not None and not access.may_sample_at(request.user, site):
        raise RegisterError("sampling_forbidden", "您不是该采样点的工作人员")
    try:
        bag = services.pack_bag(rnd, payload.code, request.user, site)
    except MassTestError as exc:
        raise _error(exc) from exc
    return Status(201, {"code": bag.code, "status": bag.status, "tubes": bag.tubes.count(), "lab": bag.lab,
                 "handed_over_at": bag.handed_over_at})


@router.post("/bags/handover", response=BagOut)
def hand_over(request: AuthedRequest, payload: HandOverIn) -> Any:
    user = request.user
    if not (user.is_command or user.role in {"sampling_lead", "volunteer"}) or not user.scope_subdistrict_id:
        raise RegisterError("handover_forbidden", "只有采样人员或指挥部可以交接转运袋")
    try:
        bag = services.hand_over(user.scope_subdistrict_id, payload.code, user, payload.lab)
    except MassTestError as exc:
        raise _error(exc) from exc
    return {"code": bag.code, "status": bag.status, "tubes": bag.tubes.count(), "lab": bag.lab,
            "handed_over_at": bag.handed_over_at}


@router.post("/rounds/{round_id}/results", response={201: ImportOut})
def import_results(request: AuthedRequest, round_id: int, file: File[UploadedFile], lab: str = "") -> Any:
    rnd = _round(request, round_id)
    try:
        job = results.start_import(rnd, request.user, file, lab)
    except ImportFileError as exc:
        raise RegisterError(exc.code, exc.message) from exc
    return Status(201, job)


@router.get("/results/{job_id}", response=ImportOut)
def get_import(request: AuthedRequest, job_id: int) -> Any:
    job = ResultImport.objects.filter(pk=job_id, created_by=request.user).first()
    if job is None:
        raise denied(request.user, "result_import", job_id)
    return job


@router.get("/rounds/{round_id}/coverage", response=list[CoverageRowOut])
def coverage(request: AuthedRequest, round_id: int, level: str = "village", village: int | None = None,
             grid: int | None = None) -> Any:
    rnd = _round(request, round_id)
    if level not in services.LEVEL_FIELDS:
        raise RegisterError("level", "层级只能是 village/grid/building/household")
    scope = access.scope_for(request.user, rnd).narrowed(village, grid)
    return [{"key": r.key, "label": r.label, "registered": r.registered, "exempt": r.exempt, "expected": r.expected,
             "sampled": r.sampled, "untested": r.untested, "rate": r.rate, "village": r.village}
            for r in services.coverage(rnd, scope, level)]
