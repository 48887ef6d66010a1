/**
 * The file store's second line of defence (issue 7, item 12), on its own: whatever a caller
 * passes, a path that resolves outside the data directory is refused, even where the name
 * grammar in front of it would have let it through or was skipped.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { pathInside } from '../../controller/store/files.ts'

const root = path.resolve('/srv/faultline/data')

describe('pathInside', () => {
  it.each([
    [['experiments', 'a.json'], '/srv/faultline/data/experiments/a.json'],
    [['runs', 'r-1', 'journal.json'], '/srv/faultline/data/runs/r-1/journal.json'],
    [['halt.json'], '/srv/faultline/data/halt.json'],
    [['experiments', 'a/../b.json'], '/srv/faultline/data/experiments/b.json'],
    [[], '/srv/faultline/data'],
    [['experiments', '..'], '/srv/faultline/data'],
  ])('%j stays inside: %s', (parts, expected) => {
    expect(pathInside(root, ...parts)).toBe(path.resolve(expected))
  })

  it.each([
    [['..', 'victim.json']],
    [['experiments', '../../victim.json']],
    [['schedules', '..', '..', 'x.history.json']],
    [['/etc/passwd']],
    [['experiments', '/tmp/x.json']],
    // A sibling whose name starts with the root's: a prefix test without the separator passes it.
    [['../data-evil/x.json']],
    [['runs', '../../data2', 'journal.json']],
  ])('%j is refused with FL_ERR_NAME_INVALID', (parts) => {
    let thrown: unknown
    try {
      pathInside(root, ...parts)
    } catch (err) {
      thrown = err
    }
    expect(thrown).toMatchObject({ code: 'FL_ERR_NAME_INVALID', statusCode: 400 })
    expect((thrown as Error).message).toContain('resolves outside the data directory')
  })
})
