"""The services: one module per resource, each the one home of that resource's rules.

The CLI (``cli/``), the JSON API (``web/api/``), the dashboard and the job kinds (``jobs/``) are
thin adapters: they parse their input, call one service function, and render what it returns.
A service validates its arguments (raising the classes of :mod:`daguerre.platform.errors`, with
the field and value at fault), runs the SQL, and returns plain data (dicts, dataclasses). It
never imports Flask, click or the web and CLI packages (an import-linter contract holds that).

See ``docs/architecture.md`` for which module owns what.
"""
