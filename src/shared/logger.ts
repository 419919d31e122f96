/** Structured JSON logs (one object per line), the shape CloudWatch Logs Insights queries well. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line (e.g. the request id). */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly base?: Record<string, unknown>;
  /** Where each line goes, with its level. @default process.stdout.write */
  readonly write?: (line: string, level: Exclude<LogLevel, "silent">) => void;
}

/** Errors become `{name, message, stack}`; a cause chain is followed one level. */
function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      stack: value.stack,
      cause: value.cause && serialise(value.cause),
    };
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = ORDER[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const base = options.base ?? {};
  const emit = (lvl: Exclude<LogLevel, "silent">, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < level) return;
    const out: Record<string, unknown> = { level: lvl, time: new Date().toISOString(), msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) out[k] = serialise(v);
    write(`${JSON.stringify(out)}\n`, lvl);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

export const parseLogLevel = (v: string | undefined): LogLevel =>
  v === "debug" || v === "info" || v === "warn" || v === "error" || v === "silent" ? v : "info";
