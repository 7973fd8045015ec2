from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from lianfang.core.models import Grid, Person, Village, flag_label


class PersonFilterForm(forms.Form):
    q = forms.CharField(label="搜索", required=False,
                        widget=forms.TextInput(attrs={"placeholder": "姓名 / 拼音或首字母 / 证件或手机后几位",
                                                      "autocomplete": "off", "inputmode": "search"}))
    village = forms.ModelChoiceField(label="村/社区", queryset=Village.objects.none(), required=False,
                                     empty_label="全部村/社区",
                                     error_messages={"invalid_choice": "所选村/社区不存在，或不在您的管辖范围内"})
    grid = forms.ModelChoiceField(label="村民小组/网格", queryset=Grid.objects.none(), required=False,
                                  empty_label="全部网格",
                                  error_messages={"invalid_choice": "所选村民小组/网格不存在，或不在您的管辖范围内"})
    population_type = forms.ChoiceField(label="人口类型", required=False,
                                        choices=[("", "全部类型"), *Person.PopulationType.choices])
    flag = forms.ChoiceField(label="标记", required=False, choices=[("", "全部人员")] + [
        (f, flag_label(f)) for f in Person.FLAG_FIELDS])

    def __init__(self, *args: Any, villages: Any, grids: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        village_field = self.fields["village"]
        grid_field = self.fields["grid"]
        assert isinstance(village_field, forms.ModelChoiceField)
        assert isinstance(grid_field, forms.ModelChoiceField)
        village_field.queryset = villages
        grid_field.queryset = grids.select_related("village")


class PersonEditForm(forms.Form):
    """What a cadre corrects in the field. Documents change only by re-registration."""

    name = forms.CharField(label="姓名", max_length=50, error_messages={"required": "请填写姓名"})
    phone = forms.CharField(label="手机号（留空表示不变）", max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    clear_phone = forms.BooleanField(label="删除手机号", required=False)
    relation = forms.ChoiceField(label="与户主关系", choices=Person.Relation.choices)
    population_type = forms.ChoiceField(label="人口类型", choices=Person.PopulationType.choices)
    grid = forms.ModelChoiceField(label="村民小组/网格", queryset=Grid.objects.none(), required=False,
                                  empty_label="未划分",
                                  error_messages={"invalid_choice": "所选村民小组/网格不属于此人所在的村/社区"})
    elderly_alone = forms.BooleanField(label="独居老人", required=False)
    no_smartphone = forms.BooleanField(label="无智能手机", required=False)
    limited_mobility = forms.BooleanField(label="行动不便", required=False)
    student = forms.BooleanField(label="学生", required=False)
    party_member = forms.BooleanField(label="党员", required=False)

    def __init__(self, *args: Any, grids: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grid_field = self.fields["grid"]
        assert isinstance(grid_field, forms.ModelChoiceField)
        grid_field.queryset = grids

    def clean_name(self) -> str:
        from lianfang.core.services import name_problem

        name = str(self.cleaned_data["name"]).strip()
        problem = name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name


class RevealForm(forms.Form):
    field = forms.ChoiceField(choices=[("doc", "证件号码"), ("phone", "手机号")])
    reason = forms.CharField(label="查看事由", max_length=200)


class ImportForm(forms.Form):
    file = forms.FileField(label="人员名单文件 (.xlsx 或 .csv)", error_messages={
        "empty": "文件是空的：请使用导入模板填写后再上传", "required": "请选择要上传的文件"})

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > settings.LIANFANG_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"文件过大（{f.size // (1024 * 1024)} MB）：单个文件不超过 "
                f"{settings.LIANFANG_IMPORT_MAX_BYTES // (1024 * 1024)} MB，请拆分后分批导入")
        name = f.name.lower()
        if name.endswith(".xls"):
            raise forms.ValidationError("不支持旧版 .xls 文件：请在 Excel 中“另存为” .xlsx 后再上传")
        if not (name.endswith(".xlsx") or name.endswith(".csv")):
            raise forms.ValidationError("只能上传 .xlsx 或 .csv 文件")
        return f
