// Plugin-side logging. go-plugin reads a plugin's stderr line by line and folds
// JSON lines in hclog's shape (@level, @message, @timestamp, then key/values)
// into the host's own log, tagged with the plugin's name; anything else is
// logged as plain text. Never log tokens, secrets or tool arguments.

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A Logger writing hclog JSON lines to `out` (stderr by default). */
export function createLogger(out: { write(line: string): unknown } = process.stderr): Logger {
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    const entry: Record<string, unknown> = { "@level": level, "@message": message, "@timestamp": hclogTime(new Date()) };
    for (const [k, v] of Object.entries(fields ?? {})) {
      entry[k] = v instanceof Error ? v.message : v;
    }
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({ "@level": level, "@message": message, "@timestamp": entry["@timestamp"] });
    }
    out.write(line + "\n");
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** A timestamp as go-plugin parses it: microseconds, exactly six digits ("2006-01-02T15:04:05.000000Z07:00"). */
export function hclogTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
