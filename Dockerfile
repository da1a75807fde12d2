# One image for the three services (gateway, ingestor, analytics) and the simulator;
# the compose command picks one (emusa-gateway run, emusa-ingestor run, ...).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY contract ./contract
COPY gateway ./gateway
COPY ingestor ./ingestor
COPY analytics ./analytics
COPY sql ./sql
# The service user may open serial adapters (dialout) and owns /var/lib/emusa, where the
# gateway queue and the analytics reports live (named volumes start with this owner).
RUN pip install --disable-pip-version-check -c requirements.lock . \
    && useradd --system --uid 10001 --home /app --groups dialout emusa \
    && mkdir -p /var/lib/emusa/reports \
    && chown -R emusa /var/lib/emusa
USER emusa
EXPOSE 8080
CMD ["emusa-ingestor", "--help"]
