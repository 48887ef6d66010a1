import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadKubeConfig } from '../../controller/drivers/kubernetes/connect.ts'

const kubeconfig = (server: string, contexts: string[]) =>
  [
    'apiVersion: v1',
    'kind: Config',
    `current-context: ${contexts[0]}`,
    'clusters:',
    `- name: c\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true`,
    'users:',
    '- name: u\n  user:\n    token: t',
    'contexts:',
    ...contexts.map((c) => `- name: ${c}\n  context:\n    cluster: c\n    user: u`),
  ].join('\n')

describe('connecting like kubectl', () => {
  it('no kubeconfig anywhere is FL_ERR_CONFIG_INVALID naming --kubeconfig, not a silent localhost:8080', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'faultline-home-'))
    expect(() => loadKubeConfig({}, { HOME: home })).toThrow(
      expect.objectContaining({
        code: 'FL_ERR_CONFIG_INVALID',
        issues: [expect.objectContaining({ path: '--kubeconfig' })],
      }),
    )
  })

  it('~/.kube/config, then --context', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'faultline-home-'))
    mkdirSync(path.join(home, '.kube'))
    writeFileSync(path.join(home, '.kube', 'config'), kubeconfig('https://127.0.0.1:6443', ['a', 'b']))
    const prev = process.env.HOME
    process.env.HOME = home
    try {
      expect(loadKubeConfig({}, { HOME: home }).getCurrentContext()).toBe('a')
      expect(loadKubeConfig({ context: 'b' }, { HOME: home }).getCurrentContext()).toBe('b')
      expect(() => loadKubeConfig({ context: 'zz' }, { HOME: home })).toThrow(
        expect.objectContaining({
          code: 'FL_ERR_CONFIG_INVALID',
          issues: [expect.objectContaining({ path: '--context' })],
        }),
      )
    } finally {
      process.env.HOME = prev
    }
  })

  it('--kubeconfig FILE wins', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'faultline-kc-'))
    const file = path.join(dir, 'config')
    writeFileSync(file, kubeconfig('https://127.0.0.1:7443', ['only']))
    expect(loadKubeConfig({ kubeconfig: file }, {}).getCurrentCluster()?.server).toBe('https://127.0.0.1:7443')
    expect(() => loadKubeConfig({ kubeconfig: path.join(dir, 'missing') }, {})).toThrow(
      expect.objectContaining({ code: 'FL_ERR_CONFIG_INVALID' }),
    )
  })
})
