# One image for the three services (gateway, ingestor, analytics); the command picks one.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY gateway ./gateway
COPY ingestor ./ingestor
COPY analytics ./analytics
COPY sql ./sql
RUN pip install --disable-pip-version-check -c requirements.lock . \
    && useradd --system --uid 10001 --home /app emusa
USER emusa
CMD ["emusa-ingestor", "--help"]
