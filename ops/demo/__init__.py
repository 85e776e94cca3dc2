"""The demo data: who it is made of (``cast``), how it is made through the use cases
(``seed``), and the ``seed-demo`` command (``cli``)."""
