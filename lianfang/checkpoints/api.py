"""The gate API: what a scanning device caches (bootstrap), single scans, batch sync of an offline
queue, and escalation. Session-authenticated like the rest of the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from ninja import Router, Schema

from lianfang.checkpoints import access, passes, scanning
from lianfang.checkpoints.models import Lane
from lianfang.control.models import RiskArea, Sop
from lianfang.core.http import AuthedRequest
from lianfang.engines import screening

router = Router(tags=["gates"])


class ScanIn(Schema):
    nonce: str
    device_time: dt.datetime
    offline: bool = False
    device_id: str = ""
    lane_id: int | None = None
    data: dict[str, Any]


class ScanOut(Schema):
    nonce: str
    ok: bool
    created: bool = False
    id: int | None = None
    outcome: str = ""
    label: str = ""
    reasons: list[dict[str, str]] = []
    late: bool = False
    token: str = ""
    qr_svg: str = ""
    pass_url: str = ""
    error_code: str = ""
    error: str = ""


class BatchIn(Schema):
    scans: list[ScanIn]


class BatchOut(Schema):
    results: list[ScanOut]


class EscalateIn(Schema):
    note: str = ""


def _qr(token: str) -> str:
    if not token:
        return ""
    import segno

    return str(segno.make(token, error="m").svg_inline(scale=4))


def _record(request: AuthedRequest, gate_id: int, item: ScanIn, *, with_qr: bool = True) -> ScanOut:
    gate = access.get_gate_for_user(request.user, gate_id, to_scan=True)
    try:
        result = scanning.record_scan(gate, request.user, item.data, nonce=item.nonce, device_time=item.device_time,
                                      offline=item.offline, device_id=item.device_id, lane_id=item.lane_id)
    except scanning.ScanError as exc:
        return ScanOut(nonce=item.nonce, ok=False, error_code=exc.code, error=exc.message)
    except (ValueError, TypeError, KeyError, AttributeError):
        # A malformed item must not block a device's whole queue: refuse it alone.
        return ScanOut(nonce=item.nonce, ok=False, error_code="invalid", error="记录格式有误，已拒绝；请重新查验")
    s = result.scan
    pass_url = ""
    if result.token:
        from django.urls import reverse

        issued = s.zone_passes_issued.first()
        code = issued.code if issued else ""
        pass_url = reverse("pass_print", args=[code]) if code else ""
    return ScanOut(nonce=item.nonce, ok=True, created=result.created, id=s.pk, outcome=s.outcome,
                   label=scanning.outcome_label(s.outcome), reasons=s.reasons, late=s.late, token=result.token,
                   qr_svg=_qr(result.token) if with_qr else "",
                   pass_url=pass_url)


@router.get("/{gate_id}/bootstrap")
def bootstrap(request: AuthedRequest, gate_id: int) -> dict[str, Any]:
    """Everything the scan page needs to judge and check passes offline."""
    gate = access.get_gate_for_user(request.user, gate_id, to_scan=True)
    today = timezone.localdate()
    areas = RiskArea.objects.filter(subdistrict_id=gate.subdistrict_id, valid_from__gte=today - dt.timedelta(days=30))
    return {
        "gate": {"id": gate.pk, "name": gate.name, "zone_id": gate.zone_id, "zone": gate.zone.name if gate.zone else ""},
        "lanes": [{"id": lane.pk, "name": lane.name, "kind": lane.kind} for lane in Lane.objects.filter(gate=gate)],
        "editions": scanning.gate_editions(gate.subdistrict_id),
        "outcomes": screening.OUTCOMES,
        "pass_key": passes.public_jwk(),
        "revoked": scanning.revoked_codes(gate.subdistrict_id),
        "risk_areas": [{"place": a.place, "level": a.level, "from": a.valid_from.isoformat(),
                        "to": a.valid_to.isoformat() if a.valid_to else None} for a in areas],
        "sops": [{"title": s.title, "body": s.body} for s in Sop.objects.filter(subdistrict_id=gate.subdistrict_id,
                                                                                applies_to="inbox:gate")],
        "server_time": timezone.now().isoformat(),
    }


@router.post("/{gate_id}/scans", response=ScanOut)
def scan(request: AuthedRequest, gate_id: int, payload: ScanIn) -> ScanOut:
    return _record(request, gate_id, payload)


@router.post("/{gate_id}/scans/batch", response=BatchOut)
def scan_batch(request: AuthedRequest, gate_id: int, payload: BatchIn) -> dict[str, Any]:
    """Sync an offline queue. Each scan stands alone (its own transaction): one bad scan is reported
    and the rest still land; a scan already received (same nonce, same content) is acknowledged."""
    access.get_gate_for_user(request.user, gate_id, to_scan=True)
    results = []
    for item in payload.scans[:1000]:
        with transaction.atomic():
            # No QR images for a synced queue: the person has long gone; the token and link remain.
            results.append(_record(request, gate_id, item, with_qr=False))
    return {"results": results}


@router.post("/scans/{scan_id}/escalate")
def escalate(request: AuthedRequest, scan_id: int, payload: EscalateIn) -> dict[str, Any]:
    s = access.scans_for_user(request.user).select_related("gate").filter(pk=scan_id).first()
    if s is None:
        from django.http import Http404

        raise Http404("不存在，或不在您的管辖范围内")
    item = scanning.escalate(s, request.user, payload.note)
    return {"inbox_id": item.pk, "message": "已直达指挥部"}

