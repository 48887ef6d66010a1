/**
 * `faultline import FILE`: another tool's experiment (or a faultline/v1 one) as the faultline/v1
 * document faultline would run, printed for review. Approximations are listed in a comment
 * header (source path -> what faultline does instead); refusals are listed by path and exit 64.
 */
import { readFileSync } from 'node:fs'
import { Document } from 'yaml'
import { errors, isFaultlineError } from '../src/errors.ts'
import { experimentDocument } from '../src/interop/document.ts'
import { interopFormats, readAnyExperiment } from '../src/interop/registry.ts'
import type { InteropNote, InteropSchedule } from '../src/interop/types.ts'
import { defineCommand, parseCommandLine, printHelp, UsageError } from './usage.ts'

export const IMPORT = defineCommand({
  command: 'import',
  summary: 'print a Chaos Toolkit, Chaos Mesh or Litmus experiment as the faultline/v1 document faultline runs',
  args: [{ name: 'FILE', help: 'the experiment (YAML or JSON); its format is recognised by content' }],
  flags: {
    var: {
      type: 'list',
      value: 'NAME=value',
      help: 'set a variable: Chaos Toolkit configuration, ${NAME} in faultline/v1 (repeatable)',
    },
    output: {
      type: 'string',
      choices: ['yaml', 'json'],
      value: 'FORMAT',
      env: 'FAULTLINE_OUTPUT',
      help: 'yaml (default): the document with its approximations as comments; json: {format, approximations, experiment}',
    },
  },
  notes: `exit codes: 0 printed, 64 usage error, a refused field (each listed with its path) or a file
            that is none of the formats faultline knows`,
})

function varsOf(list: string[]): Record<string, string> {
  const vars: Record<string, string> = {}
  for (const kv of list) {
    const i = kv.indexOf('=')
    if (i < 1)
      throw new UsageError('import', `--var ${kv}: must be NAME=value`, {
        issues: [{ path: '--var', message: 'must be NAME=value' }],
      })
    vars[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return vars
}

/**
 * The YAML text: a header naming the source and every approximation, then the document; for a
 * recurring source (a Chaos Mesh Schedule, a Litmus ChaosSchedule), the controller schedule that
 * runs it as a second YAML document.
 */
export function importYaml(
  file: string,
  format: string,
  doc: unknown,
  approximations: InteropNote[],
  schedule?: InteropSchedule,
): string {
  const title = interopFormats.find((f) => f.name === format)?.title ?? format
  const header = [
    ` faultline/v1, translated from ${title}: ${file}`,
    approximations.length
      ? ` ${approximations.length} field(s) approximated (source path -> what faultline does):`
      : ' every field mapped exactly',
    ...approximations.map((a) => ` approximated: ${a.path} -> ${a.message}`),
  ]
  const d = new Document(doc)
  d.commentBefore = header.join('\n')
  if (!schedule) return d.toString({ lineWidth: 0 })
  const s = new Document(schedule)
  s.commentBefore = ` the controller schedule that runs it (POST /schedules, docs/controller.md)`
  return `${d.toString({ lineWidth: 0 })}---\n${s.toString({ lineWidth: 0 })}`
}

export async function importCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseCommandLine(IMPORT, argv, env)
  if (parsed.help) return printHelp(IMPORT)
  const file = parsed.args[0]
  if (!file || parsed.args.length > 1) throw new UsageError('import', 'needs exactly one FILE')
  const vars = varsOf(parsed.values.var)
  const json = parsed.values.output === 'json'
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError('import', `cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  let result
  try {
    result = readAnyExperiment(text, { file, env, vars })
  } catch (err) {
    if (!isFaultlineError(err) || err.code !== errors.FL_ERR_EXPERIMENT_INVALID.code) throw err
    const issues = err.issues ?? [{ path: '', message: err.message }]
    if (json)
      process.stdout.write(
        JSON.stringify({ command: 'import', ok: false, exitCode: 64, file, error: err.message, issues }) + '\n',
      )
    else {
      process.stderr.write(`faultline import: ${err.message.split(': ')[0]}: ${file} cannot be imported\n`)
      for (const i of issues) process.stderr.write(`  ${i.path || '(document)'}: ${i.message}\n`)
    }
    return 64
  }
  const doc = experimentDocument(result.experiment)
  if (json)
    process.stdout.write(
      JSON.stringify(
        {
          command: 'import',
          ok: true,
          file,
          format: result.format,
          approximations: result.approximations,
          experiment: doc,
          ...(result.schedule ? { schedule: result.schedule } : {}),
        },
        null,
        2,
      ) + '\n',
    )
  else process.stdout.write(importYaml(file, result.format, doc, result.approximations, result.schedule))
  return 0
}
