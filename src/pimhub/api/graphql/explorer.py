"""The explorer page: a small, self-contained query runner (no CDN, no build step)."""

from __future__ import annotations

import html

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pimhub GraphQL: {name}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 0; display: grid;
  grid-template-columns: 1fr 1fr 18rem; height: 100vh; }}
section {{ display: flex; flex-direction: column; padding: .5rem; gap: .5rem; min-height: 0; }}
textarea, pre {{ flex: 1; font: 13px ui-monospace, monospace; margin: 0; padding: .5rem;
  border: 1px solid #ccc; overflow: auto; }}
#vars {{ flex: 0 0 6rem; }} #types {{ overflow: auto; font-size: 12px; }}
header {{ display: flex; gap: .5rem; align-items: center; }}
</style></head><body>
<section>
  <header><b>/graphql/{name}</b>
    <input id="key" type="password" placeholder="API key" size="30">
    <button id="run">Run (Ctrl+Enter)</button></header>
  <textarea id="query" spellcheck="false">{{
  getProductListing(first: 5) {{
    totalCount
    edges {{ node {{ id sku name }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}</textarea>
  <textarea id="vars" spellcheck="false" placeholder='variables, e.g. {{"first": 10}}'></textarea>
</section>
<section><pre id="result"></pre></section>
<section><button id="schema">Load schema</button><div id="types"></div></section>
<script>
const $ = (id) => document.getElementById(id);
$("key").value = sessionStorage.getItem("pimhub-key") || "";
async function call(query, variables) {{
  sessionStorage.setItem("pimhub-key", $("key").value);
  const response = await fetch(location.pathname, {{method: "POST",
    headers: {{"Content-Type": "application/json", "X-API-Key": $("key").value}},
    body: JSON.stringify({{query, variables}})}});
  return response.json();
}}
async function run() {{
  let variables = null;
  try {{ variables = $("vars").value.trim() ? JSON.parse($("vars").value) : null; }}
  catch (e) {{ $("result").textContent = "variables: " + e; return; }}
  $("result").textContent = JSON.stringify(await call($("query").value, variables), null, 2);
}}
$("run").onclick = run;
$("query").onkeydown = (e) => {{ if (e.ctrlKey && e.key === "Enter") run(); }};
$("schema").onclick = async () => {{
  const body = await call("{{ __schema {{ types {{ name kind fields {{ name }} }} }} }}");
  const out = $("types"); out.textContent = "";
  if (!body.data) {{ out.textContent = JSON.stringify(body.errors); return; }}
  for (const t of body.data.__schema.types) {{
    if (t.kind !== "OBJECT" || t.name.startsWith("__")) continue;
    const d = document.createElement("details");
    d.innerHTML = "<summary></summary><ul></ul>";
    d.querySelector("summary").textContent = t.name;
    for (const f of t.fields) {{
      const li = document.createElement("li"); li.textContent = f.name;
      d.querySelector("ul").appendChild(li);
    }}
    out.appendChild(d);
  }}
}};
</script></body></html>
"""


def explorer_page(config_name: str) -> str:
    return _PAGE.format(name=html.escape(config_name))
