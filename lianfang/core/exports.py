"""Exports of register lists to .xlsx, masked per role and always audited."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from openpyxl import Workbook

from lianfang.core import services
from lianfang.core.importer import safe_cell
from lianfang.core.models import Person

if TYPE_CHECKING:
    from lianfang.accounts.models import User

PERSON_EXPORT_LIMIT = 200_000


def persons_xlsx(user: User, qs: QuerySet[Person], *, unmasked: bool, reason: str,
                 filters: dict[str, Any], ip: str | None = None) -> bytes:
    if unmasked and not user.can_reveal:
        raise services.RegisterError("reveal_forbidden", "您的角色无权导出完整证件号和手机号")
    if unmasked and len(reason.strip()) < 2:
        raise services.RegisterError("reveal_reason", "导出完整信息须填写事由（至少 2 个字）")
    if not user.can_export:
        raise services.RegisterError("export_forbidden", "您的角色无权导出名单")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人员")
    header = ["村/社区", "村民小组/网格", "地址", "户号", "姓名", "性别",
              "出生日期" if unmasked else "年龄", "与户主关系",
              "证件类型", "证件号码", "手机号", "人口类型", "标记"]
    ws.append(header)
    rows = qs.select_related("village", "grid", "household__building").order_by("village_id", "household_id", "pk")
    count = 0
    for p in rows.iterator(chunk_size=2000):
        h = p.household
        ws.append([safe_cell(v) for v in [
            p.village.name, p.grid.name if p.grid else "", h.address if h else "", h.code if h else "",
            # The masked ID hides exactly the birth date: a masked export shows only the age.
            p.name, p.get_sex_display(), p.birth_date if unmasked else p.age, p.get_relation_display(),
            p.get_doc_type_display(),
            p.document_number() if unmasked else p.doc_masked,
            (p.phone_number() if unmasked else p.phone_masked),
            p.get_population_type_display(), "、".join(p.flag_labels),
        ]])
        count += 1
        if count >= PERSON_EXPORT_LIMIT:
            break
    services.audit_export(user, "person", count, unmasked=unmasked, reason=reason, filters=filters, ip=ip)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
