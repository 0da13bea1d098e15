"""`abkit ui`: a server-rendered web app over the warehouse and the spec folder.

Starlette + Jinja2 (autoescaped templates) + htmx (vendored, served locally). The warehouse is
opened per request and closed again (DuckDB allows one writing process per file), so `abkit
ingest` or a background analysis can run while the app serves pages.
"""
