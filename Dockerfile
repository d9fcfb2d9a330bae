# mcphost and its shipped plugins in one small image.
#   docker build -t mcphost .
#   docker run -p 8080:8080 -v $PWD/mcphost.yaml:/etc/mcphost/mcphost.yaml mcphost   (paths in it: /usr/local/lib/mcphost/plugins/...)
# Static binaries (no cgo: the SQLite driver is pure Go), run as a non-root user.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mcphost ./cmd/mcphost \
 && for m in plugins/*/main.go; do p=$(dirname $m); \
      CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/plugins/$(basename $p) ./$p || exit 1; \
    done

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mcphost /usr/local/bin/mcphost
COPY --from=build /out/plugins/ /usr/local/lib/mcphost/plugins/
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mcphost"]
CMD ["serve", "--config", "/etc/mcphost/mcphost.yaml"]
