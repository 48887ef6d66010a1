/** A logger whose JSON lines are kept for the test to read. */
import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../src/log.ts'

export function capturedLogger(level = 'info'): { log: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = []
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { log: createLogger({ level, destination }), lines }
}
