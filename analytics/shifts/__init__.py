"""Production shifts of a site: the YAML file's model (``config``; example
``shifts.example.yaml``), the database side (``store``) and ``emusa-analytics shifts``
(``cli``)."""
