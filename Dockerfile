# Peerbot: `docker compose up` (see compose.yaml), or `docker build -t peerbot .` and run with an env file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY . /src
RUN pip install /src \
    && rm -rf /src \
    && useradd --system --create-home --uid 10001 peerbot \
    && mkdir -p /data \
    && chown peerbot /data

USER peerbot
WORKDIR /data
ENV PORT=3000 \
    PEERBOT_SEARCH_INDEX_DIR=/data/search-index

EXPOSE 3000

# HTTP mode answers /healthz (200 while the database answers); Socket Mode (SLACK_APP_TOKEN set) has no port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; os.environ.get('SLACK_APP_TOKEN') or urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"

CMD ["peerbot", "run"]
