// One line per event on stderr, timestamped; quiet when embedded (tests, bench).

export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stderr.write(line + '\n');

export function setLogSink(s: LogSink): void {
  sink = s;
}

export function log(line: string): void {
  sink(`${new Date().toISOString()} ${line}`);
}
