# The sealed-secrets-rs controller image, for users with a Docker/BuildKit engine:
#
#   docker build -t registry.example.com/sealed-secrets-controller:0.1.0 .
#
# A static (musl) binary on an empty base, run as a non-root numeric user. CI builds the same
# image without an engine (tests/install/image, umoci) and checks that its user and entrypoint
# are the ones below.
FROM rust:1.95-alpine AS build
# aws-lc (the crypto library) is C: the musl toolchain compiles it.
RUN apk add --no-cache musl-dev gcc make perl
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sealed-secrets-controller --bin sealed-secrets-controller \
 && mkdir -p /rootfs/usr/local/bin /rootfs/etc /rootfs/tmp \
 && cp target/release/sealed-secrets-controller /rootfs/usr/local/bin/ \
 && chmod 1777 /rootfs/tmp \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:1001:1001:nonroot:/tmp:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:1001:\n' >/rootfs/etc/group

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin
EXPOSE 8080 8081
USER 1001:1001
ENTRYPOINT ["/usr/local/bin/sealed-secrets-controller"]
