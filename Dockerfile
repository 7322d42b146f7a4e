# Interlock router image: a build stage that installs the wheel into a venv, and a slim runtime
# stage that only carries that venv, the shipped routes and a numeric non-root user.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/interlock
COPY pyproject.toml README.md ./
COPY router ./router
COPY actors ./actors
COPY canonical ./canonical
RUN /opt/interlock/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# Ingress on every interface is safe because the rest fails closed: unverified sources answer only
# loopback peers, demo mode is off (a source secret left at its demo default refuses to start: set
# STRIPE_WEBHOOK_SECRET, SALESFORCE_WEBHOOK_SECRET, SHOPIFY_WEBHOOK_SECRET), and the admin API
# stays on loopback, behind a token (docs/operations.md, "Running the image").
ENV PATH=/opt/interlock/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INTERLOCK_HOST=0.0.0.0 \
    INTERLOCK_PORT=8080
RUN groupadd --gid 10001 interlock \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin interlock \
 && mkdir -p /var/lib/interlock \
 && chown 10001:10001 /var/lib/interlock
COPY --from=build /opt/interlock /opt/interlock
COPY routes /etc/interlock/routes
USER 10001:10001
VOLUME ["/var/lib/interlock"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["interlock", "healthcheck"]
# Exec form: the router is PID 1 and receives SIGTERM itself (it drains, then exits 0).
CMD ["interlock", "run", "--routes", "/etc/interlock/routes", "--data-dir", "/var/lib/interlock"]
