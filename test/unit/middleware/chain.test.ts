import { expect, test } from 'vitest';
import { runChain, type Context, type Middleware } from '../../../src/middleware/chain.js';

// runChain only hands the context on; the fields a middleware reads are not its business.
function context(): Context {
  return { state: {} } as unknown as Context;
}

// A turn of the event loop, so a middleware that awaits it is really asynchronous.
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('runs the middleware in order around the terminal, each resuming after next() in reverse order', async () => {
  const log: string[] = [];
  const around = (name: string): Middleware => async (_ctx, next) => {
    log.push(`${name} in`);
    await next();
    log.push(`${name} out`);
  };
  await runChain([around('a'), around('b'), around('c')], context(), async () => {
    log.push('terminal');
  });
  expect(log).toEqual(['a in', 'b in', 'c in', 'terminal', 'c out', 'b out', 'a out']);
});

test('hands every middleware and the terminal the same context', async () => {
  const ctx = context();
  const seen: Context[] = [];
  const record: Middleware = (c, next) => {
    seen.push(c);
    return next();
  };
  await runChain([record, record], ctx, async (c) => {
    seen.push(c);
  });
  expect(seen).toHaveLength(3);
  for (const c of seen) expect(c).toBe(ctx);
});

test('with no middleware, runs the terminal alone', async () => {
  let ran = 0;
  await runChain([], context(), async () => {
    ran++;
  });
  expect(ran).toBe(1);
});

test('rejects when a middleware calls next() twice, and the terminal runs only once', async () => {
  let terminal = 0;
  const twice: Middleware = async (_ctx, next) => {
    await next();
    await next();
  };
  await expect(
    runChain([twice], context(), async () => {
      terminal++;
    }),
  ).rejects.toThrow('next() called more than once');
  expect(terminal).toBe(1);
});

test('rejects with the error a middleware throws, synchronously or not, and skips what follows', async () => {
  const reached: string[] = [];
  const later: Middleware = (_ctx, next) => {
    reached.push('later');
    return next();
  };
  const terminal = async (): Promise<void> => {
    reached.push('terminal');
  };
  const syncThrow: Middleware = () => {
    throw new Error('sync boom');
  };
  const asyncThrow: Middleware = async () => {
    await tick();
    throw new Error('async boom');
  };
  await expect(runChain([syncThrow, later], context(), terminal)).rejects.toThrow('sync boom');
  await expect(runChain([asyncThrow, later], context(), terminal)).rejects.toThrow('async boom');
  expect(reached).toEqual([]);
});

test('rejects with the terminal\'s error, which a middleware awaiting next() sees first', async () => {
  const caught: unknown[] = [];
  const watch: Middleware = async (_ctx, next) => {
    try {
      await next();
    } catch (err) {
      caught.push(err);
      throw err;
    }
  };
  const failure = new Error('terminal failed');
  await expect(runChain([watch], context(), () => Promise.reject(failure))).rejects.toBe(failure);
  expect(caught).toEqual([failure]);
});

test('a middleware that does not call next() ends the chain: the rest and the terminal never run', async () => {
  const reached: string[] = [];
  const answer: Middleware = () => {
    reached.push('answer');
  };
  const later: Middleware = (_ctx, next) => {
    reached.push('later');
    return next();
  };
  await runChain([answer, later], context(), async () => {
    reached.push('terminal');
  });
  expect(reached).toEqual(['answer']);
});

test('awaits async middleware: the chain settles only after each has finished its work after next()', async () => {
  const log: string[] = [];
  const slow: Middleware = async (ctx, next) => {
    await tick();
    ctx.state.before = true;
    await next();
    await tick();
    log.push('slow done');
  };
  const chain = runChain([slow], context(), async (ctx) => {
    await tick();
    log.push(`terminal sees before=${String(ctx.state.before)}`);
  });
  expect(log).toEqual([]);
  await chain;
  expect(log).toEqual(['terminal sees before=true', 'slow done']);
});
