from __future__ import annotations

from typing import Any

from django import forms

from lianfang.control.models import CATEGORY_CHOICES, MEASURE_CHOICES, CaseSource, IsolationSite, Sop, Stage
from lianfang.core.models import Person, Village

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")  # what <input type=date> reads


class CaseOpenForm(forms.Form):
    name = forms.CharField(label="姓名", max_length=50)
    doc_type = forms.ChoiceField(label="证件类型", choices=Person.DocType.choices)
    doc_number = forms.CharField(label="证件号码", max_length=30)
    phone = forms.CharField(label="手机号", max_length=20, required=False)
    category = forms.ChoiceField(label="人员类别", choices=CATEGORY_CHOICES)
    exposure_date = forms.DateField(label="暴露/离开风险区日期", widget=DATE)
    source = forms.ChoiceField(label="来源", choices=CaseSource.Kind.choices, initial=CaseSource.Kind.MANUAL)
    reference = forms.CharField(label="来源说明", max_length=100, required=False)
    village = forms.ModelChoiceField(label="责任村/社区", queryset=Village.objects.none(), required=False,
                                     empty_label="待核查后指定")
    address = forms.CharField(label="现住址/落脚点", max_length=200, required=False)

    def __init__(self, *args: Any, villages: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["village"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = villages


class AdvanceForm(forms.Form):
    to_stage = forms.ChoiceField(choices=Stage.choices)
    note = forms.CharField(label="办理说明", max_length=300, required=False)
    village = forms.ModelChoiceField(label="责任村/社区", queryset=Village.objects.none(), required=False,
                                     empty_label="（不变）")

    def __init__(self, *args: Any, villages: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["village"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = villages


class TransferForm(forms.Form):
    pickup_place = forms.CharField(label="接人地点", max_length=200)
    destination = forms.ModelChoiceField(label="目的地隔离点", queryset=IsolationSite.objects.none(), required=False,
                                         empty_label="居家（不去隔离点）")
    vehicle = forms.CharField(label="车牌号", max_length=20, required=False)
    team = forms.CharField(label="转运小组", max_length=50, required=False)

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["destination"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = sites


class EditionForm(forms.Form):
    name = forms.CharField(label="名称", max_length=100)
    effective_from = forms.DateField(label="生效日期", widget=DATE)


class EditionCopyForm(EditionForm):
    key = forms.SlugField(label="编号（英文、数字、横线）", max_length=40)


class RuleForm(forms.Form):
    """One category's measure: a first phase and an optional follow-up phase."""

    category = forms.ChoiceField(choices=CATEGORY_CHOICES, widget=forms.HiddenInput)
    enabled = forms.BooleanField(label="本版规定", required=False)
    measure1 = forms.ChoiceField(label="措施", choices=MEASURE_CHOICES, required=False)
    days1 = forms.IntegerField(label="天数", min_value=0, max_value=60, required=False)
    tests1 = forms.CharField(label="检测日", max_length=60, required=False)
    measure2 = forms.ChoiceField(label="后续措施", choices=[("", "无"), *MEASURE_CHOICES], required=False)
    days2 = forms.IntegerField(label="天数", min_value=0, max_value=60, required=False)
    tests2 = forms.CharField(label="检测日", max_length=60, required=False)

    @staticmethod
    def _days(text: str) -> list[int]:
        text = text.replace("，", ",").replace("、", ",").replace(" ", "")
        return [int(t) for t in text.split(",") if t]

    def phases(self) -> list[list[Any]] | None:
        d = self.cleaned_data
        if not d.get("enabled"):
            return None
        try:
            out: list[list[Any]] = [[d["measure1"], d["days1"] or 0, self._days(d.get("tests1") or "")]]
            if d.get("measure2"):
                out.append([d["measure2"], d["days2"] or 0, self._days(d.get("tests2") or "")])
        except ValueError:
            raise forms.ValidationError("检测日请填数字，用逗号分隔，如 1,4,7") from None
        return out


RuleFormSet = forms.formset_factory(RuleForm, extra=0)


class UploadForm(forms.Form):
    file = forms.FileField(label="文件 (.xlsx 或 .csv)", error_messages={
        "empty": "文件是空的：请按模板填写后再上传", "required": "请选择要上传的文件"})
    reference = forms.CharField(label="协查函编号", max_length=100, required=False)


class InboxUpdateForm(forms.Form):
    status = forms.ChoiceField(label="状态", choices=[], required=False)
    assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(label="承办人", queryset=Village.objects.none(),
                                                                   required=False, empty_label="（未指定）")
    comment = forms.CharField(label="批注", widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, users: Any, **kwargs: Any) -> None:
        from lianfang.control.models import InboxItem

        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = InboxItem.Status.choices
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        assignee.queryset = users


class SopForm(forms.ModelForm[Sop]):
    class Meta:
        model = Sop
        fields = ["applies_to", "title", "body"]


OUTCOME_CHOICES = [("pass", "放行"), ("assess", "引导至研判点"), ("turn_back", "劝返"), ("transfer", "闭环转运"),
                   ("fever_clinic", "发热门诊")]
DEFAULT_PRECEDENCE = ["transfer", "fever_clinic", "assess", "turn_back", "pass"]


class GateRulesForm(forms.Form):
    """The gate screening rules of an edition, as a form a command-centre officer can fill in."""

    enabled = forms.BooleanField(label="本版规定卡口查验规则", required=False)
    fever_threshold_c = forms.DecimalField(label="发热标准（℃，达到即发热）", min_value=36, max_value=40, decimal_places=1,
                                           required=False)
    fever_outcome = forms.ChoiceField(label="发热", choices=OUTCOME_CHOICES, initial="fever_clinic", required=False)
    yellow = forms.ChoiceField(label="黄码", choices=OUTCOME_CHOICES, initial="turn_back", required=False)
    red = forms.ChoiceField(label="红码", choices=OUTCOME_CHOICES, initial="transfer", required=False)
    high_days = forms.IntegerField(label="到过高风险地区（天内）", min_value=1, max_value=60, required=False)
    high_outcome = forms.ChoiceField(label="处置", choices=OUTCOME_CHOICES, initial="transfer", required=False)
    medium_days = forms.IntegerField(label="到过中风险地区（天内）", min_value=1, max_value=60, required=False)
    medium_outcome = forms.ChoiceField(label="处置", choices=OUTCOME_CHOICES, initial="assess", required=False)
    low_days = forms.IntegerField(label="到过低风险地区（天内）", min_value=1, max_value=60, required=False)
    low_outcome = forms.ChoiceField(label="处置", choices=OUTCOME_CHOICES, initial="pass", required=False)
    star_outcome = forms.ChoiceField(label="行程卡带星号", choices=[("", "不作为依据"), *OUTCOME_CHOICES], required=False)
    test_required_hours = forms.IntegerField(label="须持几小时内核酸阴性证明（留空=不要求）", min_value=1, max_value=240,
                                             required=False)
    missing_test_outcome = forms.ChoiceField(label="无证明或超时", choices=OUTCOME_CHOICES, initial="turn_back", required=False)

    @staticmethod
    def initial_from(rules: dict[str, Any]) -> dict[str, Any]:
        if not rules:
            return {"enabled": False}
        out: dict[str, Any] = {"enabled": True, "fever_threshold_c": rules["fever_threshold_c"],
                               "fever_outcome": rules.get("fever_outcome", "fever_clinic"),
                               "yellow": rules["code_outcomes"]["yellow"], "red": rules["code_outcomes"]["red"],
                               "star_outcome": rules.get("star_outcome") or "",
                               "test_required_hours": rules.get("test_required_hours"),
                               "missing_test_outcome": rules["missing_test_outcome"]}
        for r in rules.get("origin_rules", []):
            out[f"{r['level']}_days"], out[f"{r['level']}_outcome"] = r["within_days"], r["outcome"]
        return out

    def to_rules(self, precedence: list[str] | None = None) -> dict[str, Any]:
        d = self.cleaned_data
        if not d.get("enabled"):
            return {}
        if d.get("fever_threshold_c") is None:
            raise forms.ValidationError("请填写发热标准")
        def pick(name: str) -> str:
            return str(d.get(name) or self.fields[name].initial)

        origins = [{"level": level, "within_days": d[f"{level}_days"], "outcome": pick(f"{level}_outcome")}
                   for level in ("high", "medium", "low") if d.get(f"{level}_days")]
        return {"fever_threshold_c": float(d["fever_threshold_c"]), "fever_outcome": pick("fever_outcome"),
                "code_outcomes": {"green": "pass", "yellow": pick("yellow"), "red": pick("red")}, "origin_rules": origins,
                "star_outcome": d.get("star_outcome") or None, "test_required_hours": d.get("test_required_hours"),
                "missing_test_outcome": pick("missing_test_outcome"), "precedence": precedence or DEFAULT_PRECEDENCE}
