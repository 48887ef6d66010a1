import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadKubeConfig, ownNamespace, usesKubernetes } from '../../controller/drivers/kubernetes/connect.ts'
import { experiment } from '../helpers/experiment.ts'

const kubeconfig = (server: string, contexts: string[], cluster = 'c') =>
  [
    'apiVersion: v1',
    'kind: Config',
    `current-context: ${contexts[0]}`,
    'clusters:',
    `- name: ${cluster}\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true`,
    'users:',
    '- name: u\n  user:\n    token: t',
    'contexts:',
    ...contexts.map((c) => `- name: ${c}\n  context:\n    cluster: ${cluster}\n    user: u`),
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
    expect(loadKubeConfig({}, { HOME: home }).getCurrentContext()).toBe('a')
    expect(loadKubeConfig({ context: 'b' }, { HOME: home }).getCurrentContext()).toBe('b')
    expect(() => loadKubeConfig({ context: 'zz' }, { HOME: home })).toThrow(
      expect.objectContaining({
        code: 'FL_ERR_CONFIG_INVALID',
        issues: [expect.objectContaining({ path: '--context' })],
      }),
    )
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

  it('a missing or unparsable --kubeconfig, or an unknown --context, names the flag and the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'faultline-kc-'))
    const issue = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        return (err as { issues: { path: string; message: string }[] }).issues[0]
      }
      throw new Error('no error')
    }
    const missing = path.join(dir, 'missing')
    expect(issue(() => loadKubeConfig({ kubeconfig: missing }, {}))).toEqual({
      path: '--kubeconfig',
      message: `cannot read ${missing}: ENOENT`,
    })
    const garbage = path.join(dir, 'garbage')
    writeFileSync(garbage, 'clusters: [unclosed')
    expect(issue(() => loadKubeConfig({ kubeconfig: garbage }, {}))).toMatchObject({
      path: '--kubeconfig',
      message: expect.stringContaining(`${garbage} is not a kubeconfig`),
    })
    const good = path.join(dir, 'good')
    writeFileSync(good, kubeconfig('https://127.0.0.1:7443', ['only']))
    expect(issue(() => loadKubeConfig({ kubeconfig: good, context: 'other' }, {}))).toEqual({
      path: '--context',
      message: 'no context "other" in the kubeconfig: must be one of only',
    })
  })
})

describe('KUBECONFIG, merged as kubectl merges it', () => {
  it('a :-separated list: missing files skipped, the first file to name a cluster or current-context wins', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'faultline-kc-'))
    const first = path.join(dir, 'first')
    const second = path.join(dir, 'second')
    writeFileSync(first, kubeconfig('https://first:6443', ['alpha']))
    // The same cluster name with another server, a second context, and its own current-context.
    writeFileSync(second, kubeconfig('https://second:6443', ['beta', 'alpha']))
    const env = { KUBECONFIG: [path.join(dir, 'missing'), first, second].join(path.delimiter) }
    const kc = loadKubeConfig({}, env)
    expect(kc.getCurrentContext()).toBe('alpha')
    expect(kc.getCurrentCluster()?.server).toBe('https://first:6443')
    expect(kc.getContexts().map((c) => c.name)).toEqual(['alpha', 'beta'])
    expect(loadKubeConfig({ context: 'beta' }, env).getCurrentContext()).toBe('beta')
    // Reversed: the other file's current-context and server win.
    const reversed = loadKubeConfig({}, { KUBECONFIG: [second, first].join(path.delimiter) })
    expect(reversed.getCurrentContext()).toBe('beta')
    expect(reversed.getCurrentCluster()?.server).toBe('https://second:6443')
  })

  it('KUBECONFIG wins over ~/.kube/config; naming no existing file is an error naming KUBECONFIG', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'faultline-home-'))
    mkdirSync(path.join(home, '.kube'))
    writeFileSync(path.join(home, '.kube', 'config'), kubeconfig('https://home:6443', ['home']))
    const other = path.join(home, 'other')
    writeFileSync(other, kubeconfig('https://env:6443', ['env']))
    expect(loadKubeConfig({}, { HOME: home, KUBECONFIG: other }).getCurrentContext()).toBe('env')
    expect(loadKubeConfig({}, { HOME: home }).getCurrentContext()).toBe('home')
    expect(() => loadKubeConfig({}, { HOME: home, KUBECONFIG: path.join(home, 'nope') })).toThrow(
      expect.objectContaining({
        code: 'FL_ERR_CONFIG_INVALID',
        issues: [expect.objectContaining({ path: 'KUBECONFIG' })],
      }),
    )
  })
})

describe('in-cluster, from the service account', () => {
  function serviceAccount(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'faultline-sa-'))
    writeFileSync(path.join(dir, 'token'), 'sa-token-1')
    writeFileSync(path.join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    writeFileSync(path.join(dir, 'namespace'), 'chaos\n')
    return dir
  }
  const home = () => mkdtempSync(path.join(tmpdir(), 'faultline-home-'))

  it('https to KUBERNETES_SERVICE_HOST:PORT, verified with ca.crt, the token as bearer, re-read when it rotates', async () => {
    const dir = serviceAccount()
    const env = { HOME: home(), KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }
    const kc = loadKubeConfig({}, env, dir)
    expect(kc.getCurrentCluster()).toMatchObject({
      server: 'https://10.96.0.1:443',
      caFile: path.join(dir, 'ca.crt'),
      skipTLSVerify: false,
    })
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('chaos')
    const opts: { headers: Record<string, string>; ca?: unknown } = { headers: {} }
    await kc.applyToHTTPSOptions(opts as never)
    expect(opts.headers.Authorization).toBe('Bearer sa-token-1')
    expect(String(opts.ca)).toContain('BEGIN CERTIFICATE')
    // An IPv6 service address is bracketed.
    const v6 = loadKubeConfig({}, { ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' }, dir)
    expect(v6.getCurrentCluster()?.server).toBe('https://[fd00::1]:443')
    expect(ownNamespace({}, dir)).toBe('chaos')
    expect(ownNamespace({ FAULTLINE_NAMESPACE: 'mine' }, dir)).toBe('mine')
  })

  it('only with both service variables and the token: otherwise no kubeconfig at all', () => {
    const dir = serviceAccount()
    const h = home()
    for (const env of [
      { HOME: h, KUBERNETES_SERVICE_HOST: '10.96.0.1' },
      { HOME: h, KUBERNETES_SERVICE_PORT: '443' },
    ])
      expect(() => loadKubeConfig({}, env, dir)).toThrow(expect.objectContaining({ code: 'FL_ERR_CONFIG_INVALID' }))
    const env = { HOME: h, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }
    expect(() => loadKubeConfig({}, env, mkdtempSync(path.join(tmpdir(), 'faultline-sa-empty-')))).toThrow(
      expect.objectContaining({ code: 'FL_ERR_CONFIG_INVALID' }),
    )
  })
})

describe('which experiments need a cluster', () => {
  const base = { hypothesis: { title: 't', checks: [] } }
  it('a Kubernetes target, check or step does; sidecars alone do not', () => {
    expect(
      usesKubernetes(
        experiment({ ...base, targets: { a: { sidecars: ['http://127.0.0.1:1'] } }, method: [{ wait: '1s' }] }).spec,
      ),
    ).toBe(false)
    expect(
      usesKubernetes(
        experiment({
          ...base,
          targets: { a: { kubernetes: { namespaces: ['x'], labelSelector: 'app=a' } } },
          method: [{ podKill: { target: 'a' } }],
        }).spec,
      ),
    ).toBe(true)
    expect(
      usesKubernetes(
        experiment({
          ...base,
          targets: { a: { sidecars: ['http://127.0.0.1:1'] } },
          method: [
            {
              parallel: [
                { wait: '1s' },
                { scale: { workload: { kind: 'Deployment', namespace: 'x', name: 'y' }, replicas: 0, duration: '1s' } },
              ],
            },
          ],
        }).spec,
      ),
    ).toBe(true)
  })
})
