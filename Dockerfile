# syntax=docker/dockerfile:1
# dataos-apikey-bot: a small, non-root image. Build: docker build -t apikey-bot .  (amd64 for DataOS)
# Stage 1 builds the wheel and its dependencies; stage 2 installs them without build tools or caches.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN python -m build --wheel --outdir /wheels . \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/dataos_apikey_bot-*.whl

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=3000 \
    DATABASE_URL=sqlite+aiosqlite:////data/apikey-bot.db \
    LOG_FORMAT=json
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels dataos-apikey-bot \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin apikeybot \
 && mkdir -p /data && chown apikeybot /data && chmod 700 /data
USER 10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["apikey-bot"]
CMD ["serve"]
