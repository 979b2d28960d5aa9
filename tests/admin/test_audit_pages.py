"""The admin's audit log pages on both backends: changes made in the admin are recorded as
`user:<name>`, listed and filtered for admins only, one entry shows before and after, and a
password reset never puts the password in the log."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from pimhub.access.audit import AuditQuery
from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient

Open = Callable[[str], AdminClient]
NEW = "a brand new password 1"


def test_admin_changes_are_recorded_as_the_user_and_listed(signed_in: Open, users_hub: Hub) -> None:
    admin = signed_in("admin")
    assert admin.post_form("/admin/users/viewer/role", {"role": "integrator"}).status_code == 303
    reset = {"password": NEW, "confirm": NEW}
    assert admin.post_form("/admin/users/viewer/password", reset).status_code == 303
    found = users_hub.audit.query(AuditQuery(target_type="user", target="viewer"))
    assert [(e.action, e.actor) for e in found[:2]] == [
        ("user.password_changed", "user:admin"),
        ("user.role_changed", "user:admin"),
    ]
    page = admin.get("/admin/audit", params={"target_type": "user", "target": "viewer"})
    assert page.status_code == 200
    assert "user.role_changed" in page.text and "user:admin" in page.text
    assert NEW not in page.text
    assert 'href="/admin/audit"' in admin.get("/admin/").text  # the nav entry
    role = found[1]
    detail = admin.get(f"/admin/audit/{role.id}")
    assert detail.status_code == 200
    assert "&#34;role&#34;: &#34;viewer&#34;" in detail.text
    assert "&#34;role&#34;: &#34;integrator&#34;" in detail.text
    assert NEW not in detail.text and "argon2" not in detail.text


def test_filters_paging_and_refusals(signed_in: Open, users_hub: Hub) -> None:
    for n in range(55):
        users_hub.audit.record("class.updated", "class", f"K{n}")
    admin = signed_in("admin")
    first = admin.get("/admin/audit", params={"action": "class.updated"})
    assert "K54" in first.text and "K4<" not in first.text and "Older entries" in first.text
    link = re.search(r'href="(/admin/audit\?[^"]*before=\d+)">Older entries', first.text)
    assert link is not None
    older = admin.get(html.unescape(link.group(1)))
    assert "<code>K4</code>" in older.text and "<code>K0</code>" in older.text
    assert "<code>K5</code>" not in older.text and "Older entries" not in older.text
    bad = admin.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 422 and "must be a date and time" in bad.text
    assert admin.get("/admin/audit/999999").status_code == 404
    assert admin.get("/admin/audit/abc").status_code == 404
    for role in ("manager", "integrator", "viewer"):
        client = signed_in(role)
        assert client.get("/admin/audit").status_code == 403
        assert 'href="/admin/audit"' not in client.get("/admin/").text
