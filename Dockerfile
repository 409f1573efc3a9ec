# syntax=docker/dockerfile:1
# (The syntax line enables BuildKit's cache mounts used below; Docker 23+ builds with BuildKit.)
#
# The example multi-store app (examples/multi-store) as a small runtime image.
#
#   docker build -t bcapp-multi-store .
#   docker run --rm -p 3000:3000 -v bcapp-data:/data --env-file app.env bcapp-multi-store
#
# See "Container image" in docs/deployment.md for the variables to set.
#
# Your own app: keep both stages and change the build step to your binary, e.g.
#   cargo build --release --locked --bin my-app && cp target/release/my-app /usr/local/bin/app
# (from your own repository, with bigcommerce-app as a git or path dependency). Remove the PORT
# default if your main() does not read PORT, and make it bind 0.0.0.0: an app bound to
# 127.0.0.1 cannot be reached from outside its container.

# At least the workspace's rust-version (1.88). The bookworm builder matches the glibc of the
# bookworm runtime below.
ARG RUST_VERSION=1.93

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# The whole workspace: cargo reads every member's manifest (bench/server, tests/browser, ...)
# even to build one example.
COPY . .
# Cache mounts keep downloaded crates and compiled dependencies between builds. The target
# directory is then not part of the image layer, so the binary is copied out in the same step.
# An example builds with the dev-dependencies (the emulator and the `testing` feature it uses),
# hence the longer first build. SQLite is compiled in (bundled) and TLS is rustls: the slim
# image's gcc is all the native toolchain needed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git/db \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --example multi-store \
    && cp target/release/examples/multi-store /usr/local/bin/app

FROM debian:bookworm-slim
# The HTTP and PostgreSQL clients carry their own root certificates (webpki-roots); the system
# store is for anything else in the image that reads /etc/ssl/certs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so orchestrators can check runAsNonRoot and a bind-mounted data
# directory can be chown'ed to it (chown 10001 ./data).
RUN groupadd --system --gid 10001 bcapp \
    && useradd --system --uid 10001 --gid bcapp --no-create-home --shell /usr/sbin/nologin bcapp \
    && mkdir /data \
    && chown bcapp:bcapp /data
COPY --from=build /usr/local/bin/app /usr/local/bin/app

# BCAPP_DATA_DIR defaults to ./data (relative to the working directory); here it is the volume.
# DATABASE_URL is left unset so it defaults to sqlite:///data/bcapp.db?mode=rwc; set it to a
# postgres:// URL for production or several instances.
# PORT is read by the example (not by the framework); it binds 0.0.0.0:$PORT.
ENV BCAPP_DATA_DIR=/data \
    PORT=3000
# The SQLite database and, without BCAPP_ENCRYPTION_KEY, the development key
# (dev-encryption.key) live here. Declared after the chown: a new named volume starts as a copy
# of /data, owner included, so the non-root user can write to it.
VOLUME ["/data"]
USER 10001:10001
EXPOSE 3000
# No HEALTHCHECK: the image has no curl. Probe GET /healthz (liveness) and GET /readyz
# (readiness) from the orchestrator or load balancer.
# Exec form: the app is PID 1 and gets SIGTERM directly; it drains and stops on it. Give it more
# than 40 s (docker run --stop-timeout 45; the default of 10 s cuts the drain short).
# The example serves real BigCommerce only when BC_CLIENT_ID and APP_URL are set (with
# BC_CLIENT_SECRET). Without them it runs its self-contained demo (emulator, temporary SQLite)
# and exits, which makes `docker run --rm bcapp-multi-store` a quick check of the image.
ENTRYPOINT ["/usr/local/bin/app"]
