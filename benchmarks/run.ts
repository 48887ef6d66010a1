export async function runBenchmarks(_a: string[]) {}
