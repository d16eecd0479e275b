"""The web Data Center (`closesync serve`): FastAPI pages and a JSON API over `closesync.datacenter`.

The web calls ONLY the DataCenter facade (`app.state.dc`): accounts, datasets, runs, previews, column types
and downloads (`dc.columns`, `dc.export`) all come from there; nothing here opens a destination or imports
the datacenter's internals (a test checks it). Dataset.to_dict() and Dataset.destination_display already
mask a database password.

Modules:
    app.py       create_app(home | datacenter=, password=, allowed_hosts=, run_scheduler=, session_secret=)
    errors.py    the exception handlers: any ClosesyncError becomes a JSON answer or an error page
    rendering.py render() a template, flash() a message, download_response() for pages and API alike
    server.py    build_server()/serve(): bind rules, then uvicorn with the app (and its scheduler)
    security.py  loopback/password rule, login, CSRF guard, the session key (<home>/web-session.key, 0600,
                 kept across restarts so `serve` restarting logs no one out)
    pages.py     server-rendered pages (Accounts with rename, DataSets, New/Edit panes, one DataSet, login)
    api.py       /api/... JSON, same DataCenter calls (models derived from DatasetSpec); OpenAPI at
                 /openapi.json, a reference page at /api
    forms.py     the New/Edit DataSet form plumbing (by DATASET_FIELDS and the Schedule's parts);
                 filters.py: Jinja filters (dates, durations, counts)
    runs.py      "Run now" threads (RunTracker); app.py opens the DataCenter and runs its scheduler thread
    static/, templates/  CSS/JS written here (no CDN); CRM text is escaped / set with textContent only

Live runs: the dataset page polls GET /api/datasets/{id}/status once a second while a run goes on; the
run's history row carries rows and requests as they grow (the DataCenter writes them at most once a second).
"""
