# The storefront service on the embedded Redis (or an external one via STOREFRONT_REDIS_URL).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STOREFRONT_DATA_DIR=/data

# Noto Sans CJK: the system font banners fall back to for Chinese text (no tofu boxes).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/storefront
COPY pyproject.toml README.md ./
COPY app ./app
COPY training ./training
COPY assets ./assets
COPY models ./models
# Editable, so the service finds assets/templates beside the code.
RUN pip install --no-cache-dir -e . \
    && useradd --system --home /srv/storefront storefront \
    && mkdir -p /data && chown storefront /data

USER storefront
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
# Set STOREFRONT_ADMIN_TOKEN; without it a random one is printed at start.
CMD ["storefront", "serve", "--host", "0.0.0.0", "--port", "8000"]
