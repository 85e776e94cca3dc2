"""The operator console: server-rendered pages (Jinja + vendored htmx) mounted at ``/`` in the
operator app beside the API under ``/admin/api/v1``. Every page route declares its permission in
``opt`` like the API's routes (the app's guard enforces it, and the authorisation matrix covers
the pages too) and calls the same use cases and read models; handlers only parse forms, render,
and turn refusals into translated inline messages (en, zh-Hans)."""
