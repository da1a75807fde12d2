"""Delivery to people: the delivery configuration (``config``, YAML plus environment;
example ``delivery.example.yaml``), e-mail (``mail``), webhook (``webhook``) and
WhatsApp (``whatsapp``) channels, the alerts of new anomalies (``alerts``), the
scheduler jobs of reports and alerts (``jobs``) and the delivery subcommands of
``emusa-analytics`` (``cli``)."""
