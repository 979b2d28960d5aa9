"""The admin web UI: server-rendered pages (Jinja2) with htmx for fragments, mounted at
/admin. Handlers are thin adapters over the hub's services and the API's permission checks;
every change is a form POST answered by a redirect."""
