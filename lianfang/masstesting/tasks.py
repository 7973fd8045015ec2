"""Background work of mass testing, run by the django-tasks database worker."""

from __future__ import annotations

from django_tasks import task

from lianfang.masstesting import results
from lianfang.masstesting.models import ResultImport


@task()
def run_result_import(job_id: int) -> str:
    job = ResultImport.objects.select_related("created_by", "round__subdistrict").get(pk=job_id)
    if job.finished:  # a retried task never imports twice
        return job.status
    return results.run_job(job).status
