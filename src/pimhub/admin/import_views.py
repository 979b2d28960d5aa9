"""Imports in the admin: uploads with a dry-run preview (import_upload), jobs with live
progress and their error reports (import_job_views), scheduled import profiles
(import_profile_views)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from pimhub.admin import import_job_views, import_profile_views, import_upload

# The upload's fixed addresses (/imports/new) before a job's (/imports/{job}).
routes: list[BaseRoute] = [
    *import_upload.routes,
    *import_job_views.routes,
    *import_profile_views.routes,
]
