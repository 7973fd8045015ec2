"""Background work of the register, run by the django-tasks database worker."""

from __future__ import annotations

from django_tasks import task

from lianfang.core import importer
from lianfang.core.models import ImportJob


@task()
def run_import(job_id: int) -> str:
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.finished:  # a retried task never imports twice
        return job.status
    return importer.run_job(job).status
