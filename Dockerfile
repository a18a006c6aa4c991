# gmc: one static binary (the web dashboard is embedded; no Node needed).
#   docker build -t gmc .
#   docker run -p 9900:9900 -v gmc-data:/data gmc
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gmc ./cmd/gmc \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gmc /usr/local/bin/gmc
# The data dir belongs to the image's non-root user (uid 65532).
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 9900
ENTRYPOINT ["/usr/local/bin/gmc"]
# Listen on every interface inside the container (the default is loopback).
CMD ["server", "--web.listen-address=0.0.0.0:9900", "--storage.path=/data"]
