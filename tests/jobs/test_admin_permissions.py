"""Issue 25, item 7: every admin action checks the permission it needs (`allowed_permissions`),
and the destructive ones ask first. A test per action and role: superuser, the staff role
(`manage.py staff grant`), and a bare `is_staff` account without the role."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Plan, User
from accounts.services import staff_grant
from archive.models import ResultState
from jobs.models import AnnotationSource, Job, JobStatus
from tests.helpers import add_source, write_source
from tests.helpers import archive_state as state  # (the archive's state of a job)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]

PASSWORD = "a-long-staff-password-1"
CHANGELISTS = {"jobs": "admin:jobs_job_changelist", "sources": "admin:jobs_annotationsource_changelist",
               "users": "admin:accounts_user_changelist"}  # fmt: skip
ALLOWED = {  # role -> (changelist, action) it may run
    "superuser": {("jobs", "force_restore"), ("jobs", "archive_now"), ("jobs", "rerun"), ("jobs", "delete_jobs"),
                  ("sources", "remove_sources"), ("users", "upgrade"), ("users", "back_to_free")},
    "staff": {("jobs", "force_restore"), ("jobs", "archive_now"), ("jobs", "rerun")},
    "bare": set(),
}  # fmt: skip
EVERY = sorted(set().union(*ALLOWED.values()))


def signed_in(role: str) -> Client:
    email = f"{role}@example.org"
    if role == "superuser":
        person = User.objects.create_superuser(email, PASSWORD)
    else:
        person = User.objects.create_user(email, PASSWORD, is_staff=True)
        if role == "staff":
            staff_grant(user=person)
    browser = Client()
    browser.force_login(person)
    return browser


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize(("changelist", "action"), EVERY)
def test_each_action_is_offered_only_to_roles_allowed_it(role, changelist, action):
    page = signed_in(role).get(reverse(CHANGELISTS[changelist]))
    if page.status_code == 403:  # (the bare account sees no changelist at all)
        assert role == "bare"
        return
    form = page.context["action_form"]  # (None: no action at all for this role)
    offered = {name for name, _ in form.fields["action"].choices} if form else set()
    assert (action in offered) == ((changelist, action) in ALLOWED[role])
    if changelist != "users":  # (jobs and sources: their own delete actions, which take the files too)
        assert "delete_selected" not in offered


def test_staff_cannot_remove_a_source_even_by_posting_the_action(tmp_path):
    add_source(tmp_path, path=write_source(tmp_path))
    source = AnnotationSource.objects.get()
    staff = signed_in("staff")
    chosen = {"action": "remove_sources", "_selected_action": [str(source.pk)], "post": "yes"}
    staff.post(reverse(CHANGELISTS["sources"]), chosen)
    assert AnnotationSource.objects.filter(pk=source.pk).exists()  # (the issue's case: gone at once before)


def test_removing_sources_asks_first_and_names_them(tmp_path):
    add_source(tmp_path, path=write_source(tmp_path))
    source = AnnotationSource.objects.get()
    root = signed_in("superuser")
    chosen = {"action": "remove_sources", "_selected_action": [str(source.pk)]}
    asked = root.post(reverse(CHANGELISTS["sources"]), chosen)
    text = asked.content.decode()
    assert asked.status_code == 200 and "This cannot be undone" in text and source.name in text
    assert 'name="csrfmiddlewaretoken"' in text and AnnotationSource.objects.filter(pk=source.pk).exists()
    root.post(reverse(CHANGELISTS["sources"]), {**chosen, "post": "yes"})
    assert not AnnotationSource.objects.filter(pk=source.pk).exists()


def test_staff_run_the_job_actions_but_cannot_delete_jobs(completed_job, drain, django_capture_on_commit_callbacks):
    job = completed_job()
    staff = signed_in("staff")
    chosen = {"_selected_action": [str(job.id)], "post": "yes"}
    staff.post(reverse(CHANGELISTS["jobs"]), {**chosen, "action": "delete_jobs"})
    assert Job.objects.filter(id=job.id).exists()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse(CHANGELISTS["jobs"]), {**chosen, "action": "archive_now"})
    drain("archive_worker")
    assert state(job) == ResultState.ARCHIVED
    Job.objects.filter(id=job.id).update(status=JobStatus.FAILED)
    staff.post(reverse(CHANGELISTS["jobs"]), {**chosen, "action": "rerun"})
    assert Job.objects.get(id=job.id).status == JobStatus.PENDING
    upgrade = {"action": "upgrade", "_selected_action": [str(job.owner_id)], "post": "yes"}
    staff.post(reverse(CHANGELISTS["users"]), upgrade)
    assert User.objects.get(id=job.owner_id).plan == Plan.FREE


def test_deleting_jobs_asks_first_and_takes_their_files(completed_job, drain):
    from django.core.files.storage import storages

    job = completed_job()
    root = signed_in("superuser")
    chosen = {"action": "delete_jobs", "_selected_action": [str(job.id)]}
    asked = root.post(reverse(CHANGELISTS["jobs"]), chosen)
    assert asked.status_code == 200 and "This cannot be undone" in asked.content.decode()
    assert Job.objects.filter(id=job.id).exists()
    root.post(reverse(CHANGELISTS["jobs"]), {**chosen, "post": "yes"})
    assert not Job.objects.filter(id=job.id).exists()
    assert not storages["results"].exists(job.result_key) and not storages["inputs"].exists(job.input_key)
