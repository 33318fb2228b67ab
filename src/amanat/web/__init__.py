"""The operator console: server-rendered pages served by the same app (no CDN, works offline)."""
