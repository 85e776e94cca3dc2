"""What the player web app and the operator console share: signed cookies, CSRF tokens bound to
a session, and how amounts and times are shown. Each app keeps its own cookie names and keys."""
